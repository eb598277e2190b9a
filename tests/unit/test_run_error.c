/* test_run_error: the first error of a run is kept, later ones are not,
 * also when many threads fail at once (exactly one setter is told it was
 * kept, and the kept error is one of theirs, whole). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "errbuf.h"
#include "run_error.h"
#include "test.h"

static void test_first_kept(void)
{
	struct run_error re;
	struct errbuf a = ERRBUF_INIT, b = ERRBUF_INIT, out = ERRBUF_INIT;

	run_error_init(&re);
	CHECK(!run_error_failed(&re));
	CHECK_EQ(run_error_take(&re, &out), 0);
	CHECK_EQ(out.code, 0);           /* untouched without an error */

	errbuf_set(&a, -EIO, "cannot read 'x': Input/output error");
	errbuf_set(&b, -ECANCELED, "stopped");
	CHECK(run_error_set(&re, &a, -EIO));
	CHECK(run_error_failed(&re));
	CHECK(!run_error_set(&re, &b, -ECANCELED));   /* a consequence */
	CHECK_EQ(run_error_take(&re, &out), -EIO);
	CHECK_EQ(out.code, -EIO);
	CHECK_STREQ(out.msg, "cannot read 'x': Input/output error");
	/* the code given wins over the errbuf's own */
	run_error_destroy(&re);
	run_error_init(&re);
	CHECK(run_error_set(&re, &b, -ENOSPC));
	CHECK_EQ(run_error_take(&re, &out), -ENOSPC);
	CHECK_STREQ(out.msg, "stopped");
	run_error_destroy(&re);
}

#define NTHREADS 8
#define ROUNDS 200

struct racer {
	struct run_error *re;
	pthread_barrier_t *start;
	int id;
	int kept;
};

static void *race_main(void *p)
{
	struct racer *t = p;
	struct errbuf eb = ERRBUF_INIT;
	int i;

	errbuf_set(&eb, -(t->id + 1), "worker %d failed: %0900d", t->id, 0);
	pthread_barrier_wait(t->start);
	for (i = 0; i < 4; i++)
		t->kept += run_error_set(t->re, &eb, -(t->id + 1));
	return NULL;
}

static void test_race(void)
{
	int round, bad = 0;

	for (round = 0; round < ROUNDS; round++) {
		struct racer t[NTHREADS];
		pthread_t th[NTHREADS];
		pthread_barrier_t start;
		struct run_error re;
		struct errbuf out = ERRBUF_INIT;
		char want[64];
		int i, kept = 0, code, id;

		run_error_init(&re);
		pthread_barrier_init(&start, NULL, NTHREADS);
		for (i = 0; i < NTHREADS; i++) {
			t[i] = (struct racer){ &re, &start, i, 0 };
			pthread_create(&th[i], NULL, race_main, &t[i]);
		}
		for (i = 0; i < NTHREADS; i++) {
			pthread_join(th[i], NULL);
			kept += t[i].kept;
		}
		code = run_error_take(&re, &out);
		id = -code - 1;
		snprintf(want, sizeof(want), "worker %d failed: ", id);
		/* one kept, its message whole and matching its code */
		if (kept != 1 || id < 0 || id >= NTHREADS || !t[id].kept ||
		    strncmp(out.msg, want, strlen(want)) ||
		    strlen(out.msg) != strlen(want) + 900)
			bad++;
		pthread_barrier_destroy(&start);
		run_error_destroy(&re);
	}
	CHECK_EQ(bad, 0);
}

int main(void)
{
	RUN_TEST(test_first_kept);
	RUN_TEST(test_race);
	return test_finish();
}
