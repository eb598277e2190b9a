/* progress: reporter thread; redraws every 250 ms after a 1 s delay. */
#include "progress.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "banned.h"

static uint64_t load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static void draw(struct progress *p, double elapsed)
{
	const struct run_stats *s = p->stats;
	uint64_t bytes = load(&s->bytes_read) + load(&s->bytes_written);
	double mb = (double)bytes / 1e6;

	fprintf(stderr, "\r\033[K%s: %llu files, %llu hashed, %llu copied, "
		"%.1f MB, %.1f MB/s, %.0f s", p->label,
		(unsigned long long)load(&s->files_scanned),
		(unsigned long long)load(&s->files_hashed),
		(unsigned long long)(load(&s->files_copied) +
				     load(&s->heap_objects_written)),
		mb, elapsed > 0 ? mb / elapsed : 0.0, elapsed);
	fflush(stderr);
}

static void *progress_main(void *arg)
{
	struct progress *p = arg;
	double start = clock_mono_s();
	struct timespec until;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		double elapsed = clock_mono_s() - start;

		if (elapsed >= 1.0) {
			if (p->log)
				__atomic_store_n(&p->log->erase_line, true,
						 __ATOMIC_RELAXED);
			p->shown = true;
			draw(p, elapsed);
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 250 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->wake, &p->lock, &until);
	}
	if (p->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		if (p->log)
			__atomic_store_n(&p->log->erase_line, false,
					 __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void progress_start(struct progress *p, const char *label,
		    const struct run_stats *stats, struct logger *log,
		    bool enabled)
{
	memset(p, 0, sizeof(*p));
	if (!enabled)
		return;
	p->stats = stats;
	p->log = log;
	p->label = label;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->thread, NULL, progress_main, p) == 0)
		p->running = true;
}

void progress_stop(struct progress *p)
{
	if (!p->running)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	p->running = false;
}
