/* shardq: an array of bqueues. */
#include "shardq.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bqueue.h"
#include "banned.h"

struct shardq {
	size_t n;
	size_t spread;                     /* large files: queues 0..spread-1 */
	atomic_uint_fast64_t spread_next;  /* the next large file's queue */
	struct bqueue *q[];
};

int shardq_new(size_t n, size_t cap, struct shardq **out)
{
	struct shardq *s;
	size_t i;

	*out = NULL;
	if (!n)
		return -EINVAL;
	s = calloc(1, sizeof(*s) + n * sizeof(s->q[0]));
	if (!s)
		return -ENOMEM;
	s->n = n;
	s->spread = n;
	for (i = 0; i < n; i++) {
		if (bqueue_new(cap, &s->q[i]) < 0) {
			shardq_free(s);
			return -ENOMEM;
		}
	}
	*out = s;
	return 0;
}

void shardq_free(struct shardq *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		bqueue_free(s->q[i]);
	free(s);
}

int shardq_push(struct shardq *s, uint64_t key, void *item)
{
	return bqueue_push(s->q[key % s->n], item);
}

/* How a worker takes a batch: up to max items, or with a weight, up to
 * the budget (bqueue_pop_batch_weighted). */
struct take {
	void **out;
	size_t max;
	uint64_t (*weight)(const void *item);  /* NULL: count only */
	uint64_t budget;
};

static int take_now(struct bqueue *q, const struct take *t, bool *ended)
{
	if (t->weight)
		return bqueue_try_pop_batch_weighted(q, t->out, t->max,
						     t->weight, t->budget,
						     ended);
	return bqueue_try_pop_batch(q, t->out, t->max, ended);
}

static int take_wait(struct bqueue *q, const struct take *t)
{
	if (t->weight)
		return bqueue_pop_batch_weighted(q, t->out, t->max, t->weight,
						 t->budget);
	return bqueue_pop_batch(q, t->out, t->max);
}

static int pop_batch(struct shardq *s, size_t i, const struct take *t)
{
	size_t own = i % s->n, j;
	bool ended;
	int n;

	/* one queue for everyone: nothing to steal, wait on it */
	if (s->n == 1)
		return take_wait(s->q[0], t);
	for (;;) {
		size_t wait_on = s->n;  /* first queue still open */

		/* own queue first; then, rather than idle, another
		 * worker's (a shard with more bytes than the others would
		 * otherwise keep one core busy while the rest wait) */
		for (j = 0; j < s->n; j++) {
			size_t k = (own + j) % s->n;

			n = take_now(s->q[k], t, &ended);
			if (n != 0)
				return n;
			if (!ended && wait_on == s->n)
				wait_on = k;
		}
		if (wait_on == s->n)
			return 0;  /* every queue closed and drained */
		/* nothing anywhere yet: wait on the own queue (or, once it
		 * ended, on one still open), then look everywhere again */
		n = take_wait(s->q[wait_on], t);
		if (n != 0)
			return n;
	}
}

int shardq_pop_batch(struct shardq *s, size_t i, void **out, size_t max)
{
	const struct take t = { out, max, NULL, 0 };

	return pop_batch(s, i, &t);
}

int shardq_pop_batch_weighted(struct shardq *s, size_t i, void **out,
			      size_t max, uint64_t (*weight)(const void *item),
			      uint64_t budget)
{
	const struct take t = { out, max, weight, budget };

	return pop_batch(s, i, &t);
}

int shardq_try_pop_batch(struct shardq *s, size_t i, void **out,
			 size_t max)
{
	const struct take t = { out, max, NULL, 0 };
	bool ended;

	/* the own queue only: another's items are its worker's, who may
	 * not have reached its pop yet (at the start of a run) */
	return take_now(s->q[i % s->n], &t, &ended);
}

int shardq_try_pop_batch_weighted(struct shardq *s, size_t i, void **out,
				  size_t max,
				  uint64_t (*weight)(const void *item),
				  uint64_t budget)
{
	const struct take t = { out, max, weight, budget };
	bool ended;

	return take_now(s->q[i % s->n], &t, &ended);
}

void shardq_close(struct shardq *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		bqueue_close(s->q[i]);
}

void shardq_abort(struct shardq *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		bqueue_abort(s->q[i]);
}

int shardq_drain(struct shardq *s, void **out)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (bqueue_drain(s->q[i], out) == 1)
			return 1;
	return 0;
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

uint64_t shardq_dir_key(const char *name, size_t len)
{
	const char *slash = memrchr(name, '/', len);

	return fnv1a(name, slash ? (size_t)(slash - name) : 0);
}

void shardq_set_spread(struct shardq *s, size_t n)
{
	s->spread = n && n < s->n ? n : s->n;
}

int shardq_push_file(struct shardq *s, const char *name, size_t len,
		     uint64_t size, void *item)
{
	uint64_t key = size >= SHARDQ_SPREAD_MIN ?
		       atomic_fetch_add(&s->spread_next, 1) % s->spread :
		       shardq_dir_key(name, len);

	return shardq_push(s, key, item);
}
