/* flusher: one thread, one descriptor, a byte counter. */
#include "flusher.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "banned.h"

struct flusher {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	int fd;
	uint64_t step;
	atomic_uint_least64_t written;  /* bytes so far (lock-free add) */
	uint64_t synced;                /* written when the last syncfs began */
	uint64_t runs;                  /* syncfs calls finished */
	bool stopping;
};

static void *flusher_main(void *arg)
{
	struct flusher *f = arg;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (!f->stopping &&
		       atomic_load(&f->written) - f->synced < f->step)
			pthread_cond_wait(&f->wake, &f->lock);
		if (f->stopping)
			break;
		f->synced = atomic_load(&f->written);
		pthread_mutex_unlock(&f->lock);
		/* errors are the final syncfs's to report (own fd) */
		(void)syncfs(f->fd);
		pthread_mutex_lock(&f->lock);
		f->runs++;
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int flusher_start(const char *root, uint64_t step, struct flusher **out)
{
	struct flusher *f = calloc(1, sizeof(*f));
	int ret;

	*out = NULL;
	if (!f)
		return -ENOMEM;
	f->step = step ? step : 1;
	f->fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->fd < 0) {
		ret = -errno;
		free(f);
		return ret;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	ret = -pthread_create(&f->thread, NULL, flusher_main, f);
	if (ret < 0) {
		pthread_cond_destroy(&f->wake);
		pthread_mutex_destroy(&f->lock);
		close(f->fd);
		free(f);
		return ret;
	}
	*out = f;
	return 0;
}

void flusher_add(struct flusher *f, uint64_t bytes)
{
	uint64_t before;

	if (!f)
		return;
	before = atomic_fetch_add(&f->written, bytes);
	if (before / f->step == (before + bytes) / f->step)
		return;
	/* a step boundary crossed: wake the thread (under the lock, so the
	 * wake-up cannot fall between its check and its wait) */
	pthread_mutex_lock(&f->lock);
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

uint64_t flusher_runs(struct flusher *f)
{
	uint64_t n;

	pthread_mutex_lock(&f->lock);
	n = f->runs;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void flusher_stop(struct flusher *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	close(f->fd);
	free(f);
}
