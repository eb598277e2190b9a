/* test_ordered: the reorder window (engine/pipeline/ordered.h) with real
 * worker threads completing slots out of order, its backpressure bound,
 * abort and close; bqueue_pop_batch (engine/base/bqueue.h); and how
 * shardq keys spread files over workers and how its (weighted) batches
 * are taken. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bqueue.h"
#include "entry.h"
#include "ordered.h"
#include "shardq.h"
#include "test.h"

#define NWORKERS 4

/* Wait for a thread that should end; a hang is a failure, not a time
 * measurement: the limit only keeps a broken build from stalling ctest. */
static int join_or_fail(pthread_t th)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	if (pthread_timedjoin_np(th, NULL, &until)) {
		fprintf(stderr, "thread did not finish (blocked forever)\n");
		return -1;
	}
	return 0;
}

/* Give a thread that is supposed to block every chance to (wrongly) go on. */
static void let_others_run(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	for (i = 0; i < 5; i++) {
		sched_yield();
		nanosleep(&ts, NULL);
	}
}

static void test_new_invalid(void)
{
	struct ordered *o = (struct ordered *)&o;

	CHECK_ERR(ordered_new(0, &o), EINVAL);
	CHECK(o == NULL);
	ordered_free(NULL);
}

/* Single thread: completions out of order are delivered in order. */
static void test_out_of_order_single(void)
{
	struct ordered_slot *s[4], *n;
	struct ordered *o = NULL;
	char name[8];
	int i;

	CHECK_EQ(ordered_new(4, &o), 0);
	if (!o)
		return;
	for (i = 0; i < 4; i++) {
		s[i] = ordered_reserve(o);
		CHECK(s[i] != NULL);
		if (!s[i])
			return;
		CHECK(!s[i]->done && !s[i]->err && !s[i]->entry.name);
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(entry_set_name(&s[i]->entry, name, strlen(name)), 0);
	}
	for (i = 3; i >= 0; i--)
		ordered_complete(o, s[i]);
	ordered_close(o);
	for (i = 0; i < 4; i++) {
		n = ordered_next(o);
		CHECK(n != NULL);
		if (!n)
			break;
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_STREQ(n->entry.name, name);
		ordered_release(o, n);
	}
	CHECK(ordered_next(o) == NULL);
	CHECK(ordered_next(o) == NULL);
	ordered_free(o);
}

/* next_batch hands out only the complete run from the head, in order;
 * complete_batch marks several slots under one lock. */
static void test_batches(void)
{
	struct ordered_slot *s[6], *out[8];
	struct ordered *o = NULL;
	int i;

	CHECK_EQ(ordered_new(8, &o), 0);
	if (!o)
		return;
	for (i = 0; i < 6; i++) {
		s[i] = ordered_reserve(o);
		CHECK(s[i] != NULL);
		if (!s[i])
			return;
		s[i]->err = i;
	}
	/* 0, 1 and 3 done; 2 not yet: only 0 and 1 may leave */
	ordered_complete_batch(o, (struct ordered_slot *[]){ s[3], s[0], s[1] },
			       3);
	CHECK_EQ(ordered_next_batch(o, out, 8), 2);
	CHECK(out[0] == s[0] && out[1] == s[1]);
	ordered_release_batch(o, out, 2);
	ordered_complete_batch(o, (struct ordered_slot *[]){ s[2], s[5] }, 2);
	/* max caps the batch */
	CHECK_EQ(ordered_next_batch(o, out, 1), 1);
	CHECK_EQ(out[0]->err, 2);
	ordered_release_batch(o, out, 1);
	CHECK_EQ(ordered_next_batch(o, out, 8), 1);
	CHECK_EQ(out[0]->err, 3);
	ordered_release_batch(o, out, 1);
	ordered_complete(o, s[4]);
	ordered_close(o);
	CHECK_EQ(ordered_next_batch(o, out, 8), 2);
	CHECK(out[0] == s[4] && out[1] == s[5]);
	ordered_release_batch(o, out, 2);
	CHECK_EQ(ordered_next_batch(o, out, 8), 0);
	ordered_free(o);
}

/* The pipeline shape: a producer reserves, 4 workers complete in random
 * order (each holds a shuffled batch), the consumer checks the order. */
struct pipe_ctx {
	struct ordered *o;
	struct bqueue *work;
	size_t window;
	uint64_t total;
	atomic_ullong reserved;
	atomic_ullong released;   /* counted before ordered_release */
	atomic_int bound_violations;
	atomic_ullong max_outstanding;
};

static void *producer_main(void *arg)
{
	struct pipe_ctx *c = arg;
	uint64_t i;

	for (i = 0; i < c->total; i++) {
		struct ordered_slot *s = ordered_reserve(c->o);
		unsigned long long out;

		if (!s)
			break;
		out = atomic_fetch_add(&c->reserved, 1) + 1 -
		      atomic_load(&c->released);
		if (out > c->window)
			atomic_fetch_add(&c->bound_violations, 1);
		if (out > atomic_load(&c->max_outstanding))
			atomic_store(&c->max_outstanding, out);
		s->entry.size = i;
		s->needs_work = (uint8_t)(i % 3 != 0);
		if (!s->needs_work) {
			/* the producer completes what needs no work */
			ordered_complete(c->o, s);
			continue;
		}
		if (bqueue_push(c->work, s) < 0)
			break;
	}
	ordered_close(c->o);
	bqueue_close(c->work);
	return NULL;
}

static void *worker_main(void *arg)
{
	struct pipe_ctx *c = arg;
	unsigned seed = (unsigned)(uintptr_t)pthread_self();
	void *batch[8];
	int n, i;

	while ((n = bqueue_pop_batch(c->work, batch, 8)) > 0) {
		/* shuffle, then complete in that order */
		for (i = n - 1; i > 0; i--) {
			int j = rand_r(&seed) % (i + 1);
			void *t = batch[i];

			batch[i] = batch[j];
			batch[j] = t;
		}
		for (i = 0; i < n; i++) {
			struct ordered_slot *s = batch[i];

			s->entry.mtime_ns = (int64_t)s->entry.size * 2;
			if (s->entry.size % 97 == 5)
				s->err = -EIO;
			if (rand_r(&seed) % 4 == 0)
				sched_yield();
			ordered_complete(c->o, s);
		}
	}
	return NULL;
}

static void run_pipeline(size_t window, uint64_t total)
{
	struct pipe_ctx c;
	pthread_t prod, workers[NWORKERS];
	struct ordered_slot *s;
	uint64_t expect = 0;
	int i, bad_order = 0, bad_work = 0, bad_err = 0;

	memset(&c, 0, sizeof(c));
	c.window = window;
	c.total = total;
	CHECK_EQ(ordered_new(window, &c.o), 0);
	CHECK_EQ(bqueue_new(window, &c.work), 0);
	if (!c.o || !c.work)
		return;
	if (pthread_create(&prod, NULL, producer_main, &c))
		exit(1);
	for (i = 0; i < NWORKERS; i++)
		if (pthread_create(&workers[i], NULL, worker_main, &c))
			exit(1);
	while ((s = ordered_next(c.o)) != NULL) {
		if (s->entry.size != expect)
			bad_order++;
		if (s->needs_work &&
		    s->entry.mtime_ns != (int64_t)s->entry.size * 2)
			bad_work++;
		if ((s->needs_work && s->entry.size % 97 == 5) !=
		    (s->err == -EIO))
			bad_err++;
		expect++;
		atomic_fetch_add(&c.released, 1);
		ordered_release(c.o, s);
	}
	CHECK_EQ(expect, total);
	CHECK_EQ(bad_order, 0);
	CHECK_EQ(bad_work, 0);
	CHECK_EQ(bad_err, 0);
	CHECK_EQ(atomic_load(&c.bound_violations), 0);
	CHECK(atomic_load(&c.max_outstanding) <= window);
	CHECK_EQ(join_or_fail(prod), 0);
	for (i = 0; i < NWORKERS; i++)
		CHECK_EQ(join_or_fail(workers[i]), 0);
	ordered_free(c.o);
	bqueue_free(c.work);
}

static void test_pipeline_in_order(void)
{
	run_pipeline(16, 20000);
	run_pipeline(1, 2000);
	run_pipeline(3, 5000);
}

struct blocker {
	struct ordered *o;
	atomic_int reserved;
	atomic_int done;
	struct ordered_slot *last;
};

/* Reserve until NULL or `limit` slots. */
static void *reserve_main(void *arg)
{
	struct blocker *b = arg;
	struct ordered_slot *s;

	while ((s = ordered_reserve(b->o)) != NULL) {
		char name[16];

		snprintf(name, sizeof(name), "r%d", atomic_load(&b->reserved));
		/* an owned entry: ordered_free must release it after abort */
		entry_set_name(&s->entry, name, strlen(name));
		b->last = s;
		atomic_fetch_add(&b->reserved, 1);
	}
	atomic_store(&b->done, 1);
	return NULL;
}

static void *next_main(void *arg)
{
	struct blocker *b = arg;

	b->last = ordered_next(b->o);
	atomic_store(&b->done, 1);
	return NULL;
}

/* The producer stops at `window` outstanding slots; abort wakes it with
 * NULL, and ordered_free releases the entries still in the window. */
static void test_window_bound_and_abort_producer(void)
{
	struct blocker b;
	pthread_t th;

	memset(&b, 0, sizeof(b));
	CHECK_EQ(ordered_new(5, &b.o), 0);
	if (!b.o)
		return;
	if (pthread_create(&th, NULL, reserve_main, &b))
		exit(1);
	while (atomic_load(&b.reserved) < 5)
		sched_yield();
	let_others_run();
	CHECK_EQ(atomic_load(&b.reserved), 5);
	CHECK_EQ(atomic_load(&b.done), 0);

	ordered_abort(b.o);
	CHECK_EQ(join_or_fail(th), 0);
	CHECK_EQ(atomic_load(&b.done), 1);
	CHECK_EQ(atomic_load(&b.reserved), 5);
	/* after abort: nothing more */
	CHECK(ordered_reserve(b.o) == NULL);
	CHECK(ordered_next(b.o) == NULL);
	/* the five reserved entries are released by ordered_free (ASan) */
	ordered_free(b.o);
}

/* The producer blocks at `window`, and each release admits exactly one
 * more slot; the consumer drives it. */
struct stepper {
	struct ordered *o;
	atomic_int reserved;
	atomic_int done;
	int total;
};

static void *step_producer(void *arg)
{
	struct stepper *st = arg;
	int i;

	for (i = 0; i < st->total; i++) {
		struct ordered_slot *s = ordered_reserve(st->o);

		if (!s)
			break;
		s->entry.size = (uint64_t)i;
		ordered_complete(st->o, s);
		atomic_fetch_add(&st->reserved, 1);
	}
	ordered_close(st->o);
	atomic_store(&st->done, 1);
	return NULL;
}

static void test_window_steps(void)
{
	struct stepper st;
	pthread_t th;
	struct ordered_slot *s;
	int k;

	memset(&st, 0, sizeof(st));
	st.total = 12;
	CHECK_EQ(ordered_new(4, &st.o), 0);
	if (!st.o)
		return;
	if (pthread_create(&th, NULL, step_producer, &st))
		exit(1);
	while (atomic_load(&st.reserved) < 4)
		sched_yield();
	for (k = 0; k < st.total; k++) {
		int want = k + 4 < st.total ? k + 4 : st.total;

		let_others_run();
		/* never more than the window outstanding */
		CHECK_EQ(atomic_load(&st.reserved), want);
		s = ordered_next(st.o);
		CHECK(s != NULL);
		if (!s)
			break;
		CHECK_EQ(s->entry.size, k);
		ordered_release(st.o, s);
		/* wait for the one slot this release admits */
		while (k + 5 <= st.total && atomic_load(&st.reserved) < k + 5)
			sched_yield();
	}
	CHECK(ordered_next(st.o) == NULL);
	CHECK_EQ(join_or_fail(th), 0);
	CHECK_EQ(atomic_load(&st.done), 1);
	ordered_free(st.o);
}

static void test_abort_wakes_consumer(void)
{
	struct blocker b;
	struct ordered_slot *s;
	pthread_t th;

	memset(&b, 0, sizeof(b));
	CHECK_EQ(ordered_new(4, &b.o), 0);
	if (!b.o)
		return;
	/* one reserved slot, not completed: the consumer must wait */
	s = ordered_reserve(b.o);
	CHECK(s != NULL);
	b.last = (struct ordered_slot *)&b;
	if (pthread_create(&th, NULL, next_main, &b))
		exit(1);
	let_others_run();
	CHECK_EQ(atomic_load(&b.done), 0);
	ordered_abort(b.o);
	CHECK_EQ(join_or_fail(th), 0);
	CHECK(b.last == NULL);
	ordered_free(b.o);

	/* consumer blocked on an empty window, then abort */
	memset(&b, 0, sizeof(b));
	CHECK_EQ(ordered_new(4, &b.o), 0);
	if (!b.o)
		return;
	b.last = (struct ordered_slot *)&b;
	if (pthread_create(&th, NULL, next_main, &b))
		exit(1);
	let_others_run();
	CHECK_EQ(atomic_load(&b.done), 0);
	ordered_abort(b.o);
	CHECK_EQ(join_or_fail(th), 0);
	CHECK(b.last == NULL);
	ordered_free(b.o);
}

static void test_abort_with_completed(void)
{
	struct ordered *o = NULL;
	struct ordered_slot *s;

	CHECK_EQ(ordered_new(4, &o), 0);
	if (!o)
		return;
	s = ordered_reserve(o);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ(entry_set_name(&s->entry, "x", 1), 0);
	ordered_complete(o, s);
	ordered_abort(o);
	/* abort wins over a ready slot */
	CHECK(ordered_next(o) == NULL);
	CHECK(ordered_reserve(o) == NULL);
	ordered_free(o);
}

static void test_close_ends_consumer(void)
{
	struct blocker b;
	pthread_t th;

	/* closed before the consumer asks */
	memset(&b, 0, sizeof(b));
	CHECK_EQ(ordered_new(2, &b.o), 0);
	if (!b.o)
		return;
	ordered_close(b.o);
	CHECK(ordered_next(b.o) == NULL);
	ordered_free(b.o);

	/* consumer already blocked when the producer closes */
	memset(&b, 0, sizeof(b));
	CHECK_EQ(ordered_new(2, &b.o), 0);
	if (!b.o)
		return;
	b.last = (struct ordered_slot *)&b;
	if (pthread_create(&th, NULL, next_main, &b))
		exit(1);
	let_others_run();
	CHECK_EQ(atomic_load(&b.done), 0);
	ordered_close(b.o);
	CHECK_EQ(join_or_fail(th), 0);
	CHECK(b.last == NULL);
	ordered_free(b.o);
}

/* Closed with an incomplete slot outstanding: the consumer waits for it,
 * gets it, then sees the end. */
static void test_close_then_complete(void)
{
	struct blocker b;
	struct ordered_slot *s;
	pthread_t th;

	memset(&b, 0, sizeof(b));
	CHECK_EQ(ordered_new(2, &b.o), 0);
	if (!b.o)
		return;
	s = ordered_reserve(b.o);
	CHECK(s != NULL);
	if (!s)
		return;
	s->entry.size = 42;
	ordered_close(b.o);
	if (pthread_create(&th, NULL, next_main, &b))
		exit(1);
	let_others_run();
	CHECK_EQ(atomic_load(&b.done), 0);
	ordered_complete(b.o, s);
	CHECK_EQ(join_or_fail(th), 0);
	CHECK(b.last == s);
	if (b.last == s) {
		CHECK_EQ(s->entry.size, 42);
		ordered_release(b.o, s);
	}
	CHECK(ordered_next(b.o) == NULL);
	ordered_free(b.o);
}

/* ---- bqueue_pop_batch ---- */

static void test_pop_batch_sizes(void)
{
	struct bqueue *q = NULL;
	void *out[32];
	uintptr_t i;
	int n;

	CHECK_EQ(bqueue_new(16, &q), 0);
	if (!q)
		return;
	for (i = 1; i <= 10; i++)
		CHECK_EQ(bqueue_push(q, (void *)i), 0);
	n = bqueue_pop_batch(q, out, 4);
	CHECK_EQ(n, 4);
	for (i = 0; i < 4 && (int)i < n; i++)
		CHECK_EQ((uintptr_t)out[i], i + 1);
	n = bqueue_pop_batch(q, out, 1);
	CHECK_EQ(n, 1);
	CHECK_EQ((uintptr_t)out[0], 5);
	/* fewer queued than max: takes what is there without waiting */
	n = bqueue_pop_batch(q, out, 32);
	CHECK_EQ(n, 5);
	for (i = 0; i < 5 && (int)i < n; i++)
		CHECK_EQ((uintptr_t)out[i], i + 6);
	/* wrap-around of the ring */
	for (i = 100; i < 116; i++)
		CHECK_EQ(bqueue_push(q, (void *)i), 0);
	n = bqueue_pop_batch(q, out, 32);
	CHECK_EQ(n, 16);
	for (i = 0; i < 16 && (int)i < n; i++)
		CHECK_EQ((uintptr_t)out[i], 100 + i);
	/* end of stream: the rest first, then 0, repeatedly */
	CHECK_EQ(bqueue_push(q, (void *)7), 0);
	CHECK_EQ(bqueue_push(q, (void *)8), 0);
	bqueue_close(q);
	CHECK_ERR(bqueue_push(q, (void *)9), ECANCELED);
	n = bqueue_pop_batch(q, out, 32);
	CHECK_EQ(n, 2);
	CHECK_EQ((uintptr_t)out[0], 7);
	CHECK_EQ((uintptr_t)out[1], 8);
	CHECK_EQ(bqueue_pop_batch(q, out, 32), 0);
	CHECK_EQ(bqueue_pop_batch(q, out, 32), 0);
	bqueue_free(q);
}

static void test_pop_batch_abort(void)
{
	struct bqueue *q = NULL;
	void *out[8], *item;
	uintptr_t i;
	int n = 0;

	CHECK_EQ(bqueue_new(8, &q), 0);
	if (!q)
		return;
	for (i = 1; i <= 5; i++)
		CHECK_EQ(bqueue_push(q, (void *)i), 0);
	bqueue_abort(q);
	/* aborted: -ECANCELED although items are queued */
	CHECK_ERR(bqueue_pop_batch(q, out, 8), ECANCELED);
	CHECK_ERR(bqueue_push(q, (void *)6), ECANCELED);
	/* the items stay for drain, in order */
	while (bqueue_drain(q, &item) == 1) {
		n++;
		CHECK_EQ((uintptr_t)item, n);
	}
	CHECK_EQ(n, 5);
	bqueue_free(q);
}

struct popper {
	struct bqueue *q;
	void *out[8];
	int ret;
	atomic_int done;
};

static void *popper_main(void *arg)
{
	struct popper *p = arg;

	p->ret = bqueue_pop_batch(p->q, p->out, 8);
	atomic_store(&p->done, 1);
	return NULL;
}

static void test_pop_batch_blocking(void)
{
	struct popper p;
	pthread_t th;

	/* blocks for the first item only */
	memset(&p, 0, sizeof(p));
	CHECK_EQ(bqueue_new(8, &p.q), 0);
	if (!p.q)
		return;
	p.ret = -99;
	if (pthread_create(&th, NULL, popper_main, &p))
		exit(1);
	let_others_run();
	CHECK_EQ(atomic_load(&p.done), 0);
	CHECK_EQ(bqueue_push(p.q, (void *)(uintptr_t)77), 0);
	CHECK_EQ(join_or_fail(th), 0);
	CHECK_EQ(p.ret, 1);
	CHECK_EQ((uintptr_t)p.out[0], 77);

	/* close wakes a blocked pop_batch with 0 */
	p.ret = -99;
	atomic_store(&p.done, 0);
	if (pthread_create(&th, NULL, popper_main, &p))
		exit(1);
	let_others_run();
	CHECK_EQ(atomic_load(&p.done), 0);
	bqueue_close(p.q);
	CHECK_EQ(join_or_fail(th), 0);
	CHECK_EQ(p.ret, 0);
	bqueue_free(p.q);

	/* abort wakes it with -ECANCELED */
	memset(&p, 0, sizeof(p));
	CHECK_EQ(bqueue_new(8, &p.q), 0);
	if (!p.q)
		return;
	p.ret = -99;
	if (pthread_create(&th, NULL, popper_main, &p))
		exit(1);
	let_others_run();
	CHECK_EQ(atomic_load(&p.done), 0);
	bqueue_abort(p.q);
	CHECK_EQ(join_or_fail(th), 0);
	CHECK_EQ(p.ret, -ECANCELED);
	bqueue_free(p.q);
}

struct pusher {
	struct bqueue *q;
	uintptr_t first, count;
	int ret;
};

static void *pusher_main(void *arg)
{
	struct pusher *p = arg;
	uintptr_t i;

	p->ret = 0;
	for (i = 0; i < p->count; i++) {
		p->ret = bqueue_push(p->q, (void *)(p->first + i));
		if (p->ret < 0)
			break;
	}
	return NULL;
}

/* A full queue with two blocked producers: one pop_batch that frees four
 * places must let both of them go on. */
static void test_pop_batch_wakes_producers(void)
{
	struct pusher p[2];
	struct bqueue *q = NULL;
	pthread_t th[2];
	void *out[8];
	uintptr_t i;
	int n, k;

	CHECK_EQ(bqueue_new(4, &q), 0);
	if (!q)
		return;
	for (i = 1; i <= 4; i++)
		CHECK_EQ(bqueue_push(q, (void *)i), 0);
	for (k = 0; k < 2; k++) {
		p[k].q = q;
		p[k].first = 100 + 10 * (uintptr_t)k;
		p[k].count = 1;
		p[k].ret = -99;
		if (pthread_create(&th[k], NULL, pusher_main, &p[k]))
			exit(1);
	}
	let_others_run();
	n = bqueue_pop_batch(q, out, 8);
	CHECK_EQ(n, 4);
	for (k = 0; k < 2; k++) {
		CHECK_EQ(join_or_fail(th[k]), 0);
		CHECK_EQ(p[k].ret, 0);
	}
	n = bqueue_pop_batch(q, out, 8);
	CHECK_EQ(n, 2);
	if (n == 2)
		CHECK_EQ((uintptr_t)out[0] + (uintptr_t)out[1], 100 + 110);
	bqueue_free(q);
}

struct mpmc_consumer {
	struct bqueue *q;
	unsigned char *seen;
	atomic_int *dups;
	uint64_t got;
	int last_ret;
};

static void *mpmc_consumer_main(void *arg)
{
	struct mpmc_consumer *c = arg;
	void *out[7];
	int n, i;

	while ((n = bqueue_pop_batch(c->q, out, 7)) > 0) {
		for (i = 0; i < n; i++) {
			uintptr_t v = (uintptr_t)out[i];

			/* each producer's items are distinct: a value seen
			 * twice means an item was handed out twice */
			if (__atomic_fetch_add(&c->seen[v], 1,
					       __ATOMIC_RELAXED))
				atomic_fetch_add(c->dups, 1);
		}
		c->got += (uint64_t)n;
	}
	c->last_ret = n;
	return NULL;
}

static void test_pop_batch_mpmc(void)
{
	enum { NP = 4, NC = 3, PER = 5000 };
	struct pusher p[NP];
	struct mpmc_consumer c[NC];
	pthread_t pt[NP], ct[NC];
	struct bqueue *q = NULL;
	unsigned char *seen;
	atomic_int dups = 0;
	uint64_t total = 0;
	int k, missing = 0;
	size_t v;

	seen = calloc(NP * PER + 1, 1);
	CHECK_EQ(bqueue_new(5, &q), 0);
	if (!q || !seen) {
		free(seen);
		bqueue_free(q);
		return;
	}
	for (k = 0; k < NC; k++) {
		c[k].q = q;
		c[k].seen = seen;
		c[k].dups = &dups;
		c[k].got = 0;
		c[k].last_ret = -99;
		if (pthread_create(&ct[k], NULL, mpmc_consumer_main, &c[k]))
			exit(1);
	}
	for (k = 0; k < NP; k++) {
		p[k].q = q;
		p[k].first = 1 + (uintptr_t)k * PER;
		p[k].count = PER;
		if (pthread_create(&pt[k], NULL, pusher_main, &p[k]))
			exit(1);
	}
	for (k = 0; k < NP; k++) {
		CHECK_EQ(join_or_fail(pt[k]), 0);
		CHECK_EQ(p[k].ret, 0);
	}
	bqueue_close(q);
	for (k = 0; k < NC; k++) {
		CHECK_EQ(join_or_fail(ct[k]), 0);
		CHECK_EQ(c[k].last_ret, 0);
		total += c[k].got;
	}
	CHECK_EQ(total, NP * PER);
	CHECK_EQ(atomic_load(&dups), 0);
	for (v = 1; v <= NP * PER; v++)
		if (seen[v] != 1)
			missing++;
	CHECK_EQ(missing, 0);
	free(seen);
	bqueue_free(q);
}

/* Small files of one directory share a worker (one directory lock
 * holder); large files go to the workers in turn, whatever their names
 * ("a" and "e" hash to one of four queues). */
static void test_shardq_push_file(void)
{
	static int small[3], big[4];
	static const char *const big_names[4] = { "a", "e", "d/a", "d/e" };
	void *out[8];
	struct shardq *q;
	int i, n0, n1;

	CHECK(shardq_dir_key("d/a", 3) == shardq_dir_key("d/x", 3));
	CHECK(shardq_dir_key("d/a", 3) != shardq_dir_key("e/a", 3));
	CHECK_EQ(shardq_new(2, 8, &q), 0);
	CHECK_EQ(shardq_push_file(q, "d/a", 3, 10, &small[0]), 0);
	CHECK_EQ(shardq_push_file(q, "d/b", 3, SHARDQ_SPREAD_MIN - 1,
				  &small[1]), 0);
	CHECK_EQ(shardq_push_file(q, "d/c", 3, 0, &small[2]), 0);
	for (i = 0; i < 4; i++)
		CHECK_EQ(shardq_push_file(q, big_names[i],
					  strlen(big_names[i]),
					  SHARDQ_SPREAD_MIN << i, &big[i]), 0);
	/* a worker's own queue only: the three small ones together, the
	 * large ones two and two */
	n0 = shardq_try_pop_batch(q, 0, out, 8);
	n1 = shardq_try_pop_batch(q, 1, out, 8);
	CHECK((n0 == 5 && n1 == 2) || (n0 == 2 && n1 == 5));
	CHECK_EQ(shardq_try_pop_batch(q, 0, out, 8), 0);
	shardq_free(q);
}

/* With a spread of 2 over 4 queues, 6 large files go 3 and 3 to queues
 * 0 and 1 (the lanes' workers); small files are routed as before; a
 * spread of 0 or over the count means every queue. */
static void test_shardq_spread(void)
{
	static int big[6], small;
	void *out[8];
	struct shardq *q;
	size_t k;
	int i;

	CHECK_EQ(shardq_new(4, 8, &q), 0);
	shardq_set_spread(q, 2);
	for (i = 0; i < 6; i++)
		CHECK_EQ(shardq_push_file(q, "x", 1, SHARDQ_SPREAD_MIN,
					  &big[i]), 0);
	CHECK_EQ(shardq_push_file(q, "d/s", 3, 1, &small), 0);
	k = shardq_dir_key("d/s", 3) % 4;
	CHECK_EQ(shardq_try_pop_batch(q, 0, out, 8), 3 + (k == 0));
	CHECK_EQ(shardq_try_pop_batch(q, 1, out, 8), 3 + (k == 1));
	CHECK_EQ(shardq_try_pop_batch(q, 2, out, 8), (int)(k == 2));
	CHECK_EQ(shardq_try_pop_batch(q, 3, out, 8), (int)(k == 3));
	shardq_free(q);

	CHECK_EQ(shardq_new(3, 8, &q), 0);
	shardq_set_spread(q, 7);   /* more than the queues: all of them */
	for (i = 0; i < 6; i++)
		CHECK_EQ(shardq_push_file(q, "x", 1, SHARDQ_SPREAD_MIN,
					  &big[i]), 0);
	for (i = 0; i < 3; i++)
		CHECK_EQ(shardq_try_pop_batch(q, (size_t)i, out, 8), 2);
	shardq_free(q);
}

/* A worker whose own shard is empty takes from another rather than
 * idle or end early; the end comes only when every shard is drained. */
static void test_shardq_steal(void)
{
	static int items[3];
	void *out[4];
	struct shardq *q;

	CHECK_EQ(shardq_new(2, 8, &q), 0);
	CHECK_EQ(shardq_push(q, 0, &items[0]), 0);
	CHECK_EQ(shardq_push(q, 0, &items[1]), 0);
	CHECK_EQ(shardq_push(q, 0, &items[2]), 0);
	/* worker 1's queue is empty but open: it steals from queue 0 */
	CHECK_EQ(shardq_pop_batch(q, 1, out, 2), 2);
	CHECK(out[0] == &items[0] && out[1] == &items[1]);
	shardq_close(q);
	/* its own queue ended: it still helps with queue 0 */
	CHECK_EQ(shardq_pop_batch(q, 1, out, 4), 1);
	CHECK(out[0] == &items[2]);
	CHECK_EQ(shardq_pop_batch(q, 1, out, 4), 0);
	CHECK_EQ(shardq_pop_batch(q, 0, out, 4), 0);
	shardq_free(q);
}

static uint64_t item_weight(const void *item)
{
	return *(const int *)item;
}

/* Weighted batches stop before the item that would pass the budget (the
 * first is always taken), on a worker's own shard, when it steals from
 * another, without blocking, and on a single shared queue. */
static void test_shardq_weighted(void)
{
	static int w[5] = { 3, 3, 5, 1, 1 };
	void *out[8];
	struct shardq *q;
	int i;

	CHECK_EQ(shardq_new(2, 8, &q), 0);
	for (i = 0; i < 5; i++)
		CHECK_EQ(shardq_push(q, 0, &w[i]), 0);
	/* worker 1 steals from queue 0: 3 + 3 fit a budget of 6, 5 not */
	CHECK_EQ(shardq_pop_batch_weighted(q, 1, out, 8, item_weight, 6), 2);
	CHECK(out[0] == &w[0] && out[1] == &w[1]);
	/* its own queue only, without blocking: nothing there */
	CHECK_EQ(shardq_try_pop_batch_weighted(q, 1, out, 8, item_weight,
					       6), 0);
	/* over the budget alone: still taken, alone */
	CHECK_EQ(shardq_try_pop_batch_weighted(q, 0, out, 8, item_weight,
					       4), 1);
	CHECK(out[0] == &w[2]);
	shardq_close(q);
	CHECK_EQ(shardq_pop_batch_weighted(q, 0, out, 8, item_weight, 6), 2);
	CHECK_EQ(shardq_pop_batch_weighted(q, 0, out, 8, item_weight, 6), 0);
	shardq_free(q);

	/* one queue for every worker: any index takes from it */
	CHECK_EQ(shardq_new(1, 8, &q), 0);
	for (i = 0; i < 5; i++)
		CHECK_EQ(shardq_push(q, (uint64_t)i, &w[i]), 0);
	CHECK_EQ(shardq_pop_batch_weighted(q, 3, out, 8, item_weight, 7), 2);
	CHECK_EQ(shardq_pop_batch_weighted(q, 0, out, 8, item_weight, 7), 3);
	CHECK(out[0] == &w[2] && out[2] == &w[4]);
	shardq_abort(q);
	CHECK_ERR(shardq_pop_batch_weighted(q, 0, out, 8, item_weight, 7),
		  ECANCELED);
	shardq_free(q);
}

int main(void)
{
	RUN_TEST(test_new_invalid);
	RUN_TEST(test_shardq_spread);
	RUN_TEST(test_out_of_order_single);
	RUN_TEST(test_batches);
	RUN_TEST(test_pipeline_in_order);
	RUN_TEST(test_window_bound_and_abort_producer);
	RUN_TEST(test_window_steps);
	RUN_TEST(test_abort_wakes_consumer);
	RUN_TEST(test_abort_with_completed);
	RUN_TEST(test_close_ends_consumer);
	RUN_TEST(test_close_then_complete);
	RUN_TEST(test_pop_batch_sizes);
	RUN_TEST(test_pop_batch_abort);
	RUN_TEST(test_pop_batch_blocking);
	RUN_TEST(test_pop_batch_wakes_producers);
	RUN_TEST(test_pop_batch_mpmc);
	RUN_TEST(test_shardq_push_file);
	RUN_TEST(test_shardq_steal);
	RUN_TEST(test_shardq_weighted);
	return test_finish();
}
