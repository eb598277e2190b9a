/* test_progress: the progress reporter (engine/progress/progress.h):
 * disabled start is a no-op, stop is safe without start and twice, the
 * logger's erase flag is set while the line is shown and cleared after,
 * stat_add is atomic. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "progress.h"
#include "test.h"

static void test_disabled(void)
{
	struct run_stats stats;
	struct logger log = LOGGER_INIT;
	struct progress p;

	memset(&stats, 0, sizeof(stats));
	memset(&p, 0xa5, sizeof(p));
	progress_start(&p, "test", &stats, &log, false);
	CHECK(!p.running);
	CHECK(!p.shown);
	CHECK(!log.erase_line);
	progress_stop(&p);
	CHECK(!p.running);
	progress_stop(&p);
	CHECK(!log.erase_line);
}

static void test_stop_without_start(void)
{
	struct progress p;

	memset(&p, 0, sizeof(p));
	progress_stop(&p);
	CHECK(!p.running);
	progress_stop(&p);
	CHECK(!p.running);
}

/* Enabled and stopped at once: the thread ends, nothing stays set. */
static void test_start_stop(void)
{
	struct run_stats stats;
	struct logger log = LOGGER_INIT;
	struct progress p;
	int i;

	memset(&stats, 0, sizeof(stats));
	for (i = 0; i < 20; i++) {
		progress_start(&p, "quick", &stats, &log, true);
		CHECK(p.running);
		progress_stop(&p);
		CHECK(!p.running);
		CHECK(!log.erase_line);
		progress_stop(&p);
	}
	/* without a logger */
	progress_start(&p, "nolog", &stats, NULL, true);
	CHECK(p.running);
	progress_stop(&p);
	CHECK(!p.running);
}

struct counter_ctx {
	struct run_stats *stats;
	int n;
};

static void *adder_main(void *arg)
{
	struct counter_ctx *c = arg;
	int i;

	for (i = 0; i < c->n; i++) {
		stat_add(&c->stats->files_scanned, 1);
		stat_add(&c->stats->bytes_read, 3);
	}
	return NULL;
}

struct logger_ctx {
	struct logger *log;
	atomic_int stop;
	int lines;
};

static void *log_main(void *arg)
{
	struct logger_ctx *c = arg;
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	while (!atomic_load(&c->stop) && c->lines < 40) {
		log_msg(c->log, LOG_WARNING, "test message %d while the "
			"progress line is shown", c->lines);
		c->lines++;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Shown: counters move, messages are logged from another thread (they
 * read the logger's erase flag), the line is erased at the end. */
static void test_shown(void)
{
	struct run_stats stats;
	struct logger log = LOGGER_INIT;
	struct counter_ctx cc[4];
	struct logger_ctx lc;
	pthread_t th[4], lt;
	struct progress p;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	bool shown = false, erase = false;
	int i, waited;

	memset(&stats, 0, sizeof(stats));
	memset(&lc, 0, sizeof(lc));
	lc.log = &log;
	progress_start(&p, "shown", &stats, &log, true);
	CHECK(p.running);
	if (!p.running)
		return;
	for (i = 0; i < 4; i++) {
		cc[i].stats = &stats;
		cc[i].n = 100000;
		if (pthread_create(&th[i], NULL, adder_main, &cc[i]))
			exit(1);
	}
	if (pthread_create(&lt, NULL, log_main, &lc))
		exit(1);
	/* the line appears after its delay; wait for it (a limit only so a
	 * broken reporter cannot stall the suite) */
	for (waited = 0; waited < 1500 && !shown; waited++) {
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&p.lock);
		shown = p.shown;
		erase = log.erase_line;
		pthread_mutex_unlock(&p.lock);
	}
	CHECK(shown);
	CHECK(erase);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	atomic_store(&lc.stop, 1);
	pthread_join(lt, NULL);
	progress_stop(&p);
	CHECK(!p.running);
	CHECK(!log.erase_line);
	/* stat_add is atomic: no lost updates */
	CHECK_EQ(stats.files_scanned, 4 * 100000);
	CHECK_EQ(stats.bytes_read, 4 * 300000);
}

int main(void)
{
	RUN_TEST(test_disabled);
	RUN_TEST(test_stop_without_start);
	RUN_TEST(test_start_stop);
	RUN_TEST(test_shown);
	return test_finish();
}
