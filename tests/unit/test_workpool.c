/* test_workpool: the worker pool of engine/pipeline/workpool.h with real
 * threads: every item taken exactly once, each worker on its own shard,
 * a shared queue, the first error stopping everyone, and the queue's
 * leftovers freed however the pool ends (before start, after an abort,
 * with workers still blocked in a pop); and team_run (team.h), a team
 * that shares out an array by index, the caller among its members. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "team.h"
#include "workpool.h"
#include "test.h"

#define NITEMS 10000
#define MAXW 8

struct item {
	unsigned value;
	atomic_int seen;       /* times a worker took it */
};

struct ctx {
	struct workpool *pool;
	atomic_uint taken;
	atomic_uint freed;
	atomic_uint_fast64_t sum;
	atomic_uint shard_seen[MAXW];  /* times work() ran with that shard */
	unsigned fail_after;           /* 0: never; else abort at that item */
};

static struct ctx *freeing_ctx;

static void free_item(void *p)
{
	(void)p;
	atomic_fetch_add(&freeing_ctx->freed, 1);
}

static void work(void *arg, size_t shard)
{
	struct ctx *c = arg;
	void *batch[16];
	int n, i;

	if (shard < MAXW)
		atomic_fetch_add(&c->shard_seen[shard], 1);
	while ((n = shardq_pop_batch(workpool_queue(c->pool), shard, batch,
				     16)) > 0) {
		for (i = 0; i < n; i++) {
			struct item *it = batch[i];
			unsigned k = atomic_fetch_add(&c->taken, 1) + 1;

			atomic_fetch_add(&it->seen, 1);
			atomic_fetch_add(&c->sum, it->value);
			if (c->fail_after && k == c->fail_after)
				workpool_abort(c->pool);
		}
	}
}

static struct item *make_items(void)
{
	struct item *items = calloc(NITEMS, sizeof(*items));
	unsigned i;

	for (i = 0; items && i < NITEMS; i++)
		items[i].value = i + 1;
	return items;
}

static struct workpool *new_pool(struct ctx *c, unsigned workers,
				 size_t shards, size_t cap)
{
	const struct workpool_def def = {
		.workers = workers, .shards = shards, .queue_cap = cap,
		.work = work, .arg = c, .free_item = free_item,
	};
	struct errbuf eb = ERRBUF_INIT;

	freeing_ctx = c;
	CHECK_EQ(workpool_new(&def, &c->pool, &eb), 0);
	return c->pool;
}

/* Every item once, each of the workers with its own shard index. */
static void run_all(unsigned workers, size_t shards)
{
	static struct ctx c;
	struct errbuf eb = ERRBUF_INIT;
	struct item *items = make_items();
	uint64_t want = (uint64_t)NITEMS * (NITEMS + 1) / 2;
	unsigned i, twice = 0;

	memset(&c, 0, sizeof(c));
	CHECK(items != NULL);
	if (!items || !new_pool(&c, workers, shards, 64))
		return;
	CHECK_EQ(workpool_start(c.pool, &eb), 0);
	CHECK_EQ(workpool_running(c.pool), workers);
	for (i = 0; i < NITEMS; i++)
		CHECK_EQ(shardq_push(workpool_queue(c.pool), i * 7919u,
				     &items[i]), 0);
	workpool_close(c.pool);
	workpool_join(c.pool);
	CHECK_EQ(workpool_running(c.pool), 0);
	CHECK_EQ(atomic_load(&c.taken), NITEMS);
	CHECK_EQ(atomic_load(&c.sum), want);
	for (i = 0; i < NITEMS; i++)
		twice += atomic_load(&items[i].seen) != 1;
	CHECK_EQ(twice, 0);
	for (i = 0; i < workers && i < MAXW; i++)
		CHECK_EQ(atomic_load(&c.shard_seen[i]), 1);
	workpool_free(c.pool);
	CHECK_EQ(atomic_load(&c.freed), 0);
	free(items);
}

static void test_sharded(void)
{
	run_all(4, 0);   /* one shard per worker */
}

static void test_shared_queue(void)
{
	run_all(4, 1);   /* every worker on shard 0's queue */
}

static void test_one_worker(void)
{
	run_all(1, 0);
}

/* A worker's abort stops everyone; what was queued and never taken is
 * freed by workpool_free: taken + freed = pushed. */
static void test_abort_drains(void)
{
	static struct ctx c;
	struct errbuf eb = ERRBUF_INIT;
	struct item *items = make_items();
	unsigned i, pushed = 0;

	memset(&c, 0, sizeof(c));
	c.fail_after = 100;
	if (!items || !new_pool(&c, 3, 0, 256))
		return;
	CHECK_EQ(workpool_start(c.pool, &eb), 0);
	for (i = 0; i < NITEMS; i++) {
		if (shardq_push(workpool_queue(c.pool), i, &items[i]) < 0)
			break;  /* aborted: the item stays the producer's */
		pushed++;
	}
	CHECK(pushed < NITEMS);  /* the abort reached the producer */
	workpool_join(c.pool);
	workpool_free(c.pool);
	CHECK_EQ(atomic_load(&c.taken) + atomic_load(&c.freed), pushed);
	CHECK(atomic_load(&c.taken) >= c.fail_after);
	free(items);
}

/* Items pushed to a pool never started are freed, not leaked. */
static void test_free_unstarted(void)
{
	static struct ctx c;
	struct item items[10];
	unsigned i;

	memset(&c, 0, sizeof(c));
	memset(items, 0, sizeof(items));
	if (!new_pool(&c, 2, 0, 64))
		return;
	for (i = 0; i < 10; i++)
		CHECK_EQ(shardq_push(workpool_queue(c.pool), i, &items[i]), 0);
	CHECK_EQ(workpool_running(c.pool), 0);
	workpool_join(c.pool);     /* nothing to join: returns */
	workpool_free(c.pool);
	CHECK_EQ(atomic_load(&c.freed), 10);
	CHECK_EQ(atomic_load(&c.taken), 0);
}

/* Freed while its workers wait in a pop on an empty open queue: the free
 * aborts, wakes and joins them (an error path that never closed). */
static void test_free_with_waiting_workers(void)
{
	static struct ctx c;
	struct errbuf eb = ERRBUF_INIT;
	unsigned spins = 0;

	memset(&c, 0, sizeof(c));
	if (!new_pool(&c, 3, 0, 64))
		return;
	CHECK_EQ(workpool_start(c.pool, &eb), 0);
	/* let them reach their pop (not required for the check: a worker
	 * that starts late finds the queue aborted) */
	while (spins++ < 1000)
		sched_yield();
	workpool_free(c.pool);
	CHECK_EQ(atomic_load(&c.taken), 0);
	CHECK_EQ(atomic_load(&c.shard_seen[0]) +
		 atomic_load(&c.shard_seen[1]) +
		 atomic_load(&c.shard_seen[2]), 3);
}

/* The steps after new are safe in any order and twice, and without a
 * pool (NULL). */
static void test_steps_idempotent(void)
{
	static struct ctx c;
	struct errbuf eb = ERRBUF_INIT;
	struct item it = { 0 };

	memset(&c, 0, sizeof(c));
	if (!new_pool(&c, 2, 0, 8))
		return;
	CHECK_EQ(workpool_start(c.pool, &eb), 0);
	CHECK_EQ(workpool_start(c.pool, &eb), 0);   /* no more threads */
	CHECK_EQ(workpool_running(c.pool), 2);
	CHECK_EQ(shardq_push(workpool_queue(c.pool), 1, &it), 0);
	workpool_close(c.pool);
	workpool_close(c.pool);
	workpool_join(c.pool);
	workpool_join(c.pool);
	workpool_abort(c.pool);
	CHECK_EQ(atomic_load(&c.taken), 1);
	CHECK_ERR(shardq_push(workpool_queue(c.pool), 1, &it), ECANCELED);
	workpool_free(c.pool);
	workpool_close(NULL);
	workpool_abort(NULL);
	workpool_join(NULL);
	workpool_free(NULL);
	CHECK_EQ(atomic_load(&c.freed), 0);
}

/* team_run: every member runs to its end before it returns, the caller
 * among them; items claimed by index are each taken once. */
#define TEAM_ITEMS 20000

struct team_work {
	atomic_size_t next;
	atomic_uint members;
	atomic_bool caller_ran;
	pthread_t caller;
	pthread_t who[8];            /* each member's thread */
	unsigned char taken[TEAM_ITEMS];
};

static void *team_member(void *arg)
{
	struct team_work *w = arg;
	unsigned k = atomic_fetch_add(&w->members, 1);
	size_t i;

	if (k < 8)
		w->who[k] = pthread_self();
	if (pthread_equal(pthread_self(), w->caller))
		atomic_store(&w->caller_ran, true);
	while ((i = atomic_fetch_add(&w->next, 1)) < TEAM_ITEMS) {
		w->taken[i]++;
		if (!(i % 1000))
			sched_yield();
	}
	return NULL;
}

static void test_team(void)
{
	static struct team_work w;
	unsigned n, ran, i, j;

	for (n = 0; n <= 5; n++) {
		memset(&w, 0, sizeof(w));
		w.caller = pthread_self();
		ran = team_run(n, team_member, &w);
		/* threads are not refused here: all n ran, each on its own
		 * thread, the caller's among them */
		CHECK_EQ(ran, n ? n : 1);
		CHECK_EQ(atomic_load(&w.members), ran);
		CHECK(atomic_load(&w.caller_ran));
		for (i = 0; i < ran; i++)
			for (j = i + 1; j < ran; j++)
				CHECK(!pthread_equal(w.who[i], w.who[j]));
		for (i = 0; i < TEAM_ITEMS; i++)
			if (w.taken[i] != 1)
				break;
		CHECK_EQ(i, TEAM_ITEMS);
	}
}

int main(void)
{
	RUN_TEST(test_sharded);
	RUN_TEST(test_shared_queue);
	RUN_TEST(test_one_worker);
	RUN_TEST(test_abort_drains);
	RUN_TEST(test_free_unstarted);
	RUN_TEST(test_free_with_waiting_workers);
	RUN_TEST(test_steps_idempotent);
	RUN_TEST(test_team);
	return test_finish();
}
