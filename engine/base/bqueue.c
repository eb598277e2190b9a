/* bqueue: ring of pointers under one mutex and two condition variables.
 * Stages move batches, not single bytes, so one lock is not the bottleneck. */
#include "bqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct bqueue {
	pthread_mutex_t lock;
	pthread_cond_t not_full;
	pthread_cond_t not_empty;
	size_t capacity;
	size_t head;  /* next pop */
	size_t count;
	size_t waiting;  /* consumers blocked in a pop (woken or not) */
	bool closed;
	bool aborted;
	void **items;
};

int bqueue_new(size_t capacity, struct bqueue **out)
{
	struct bqueue *q;

	*out = NULL;
	if (!capacity)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->items = calloc(capacity, sizeof(*q->items));
	if (!q->items) {
		free(q);
		return -ENOMEM;
	}
	q->capacity = capacity;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->not_full, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	*out = q;
	return 0;
}

void bqueue_free(struct bqueue *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	free(q->items);
	free(q);
}

int bqueue_push(struct bqueue *q, void *item)
{
	int ret = 0;

	pthread_mutex_lock(&q->lock);
	while (q->count == q->capacity && !q->closed && !q->aborted)
		pthread_cond_wait(&q->not_full, &q->lock);
	if (q->closed || q->aborted) {
		ret = -ECANCELED;
	} else {
		q->items[(q->head + q->count) % q->capacity] = item;
		q->count++;
		pthread_cond_signal(&q->not_empty);
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/* With the lock held: sleep until a push or close. A consumer counts
 * as waiting until it has the lock again, so the item a push woke it
 * for is not taken by a try-pop meanwhile. */
static void wait_not_empty(struct bqueue *q)
{
	q->waiting++;
	pthread_cond_wait(&q->not_empty, &q->lock);
	q->waiting--;
}

int bqueue_pop(struct bqueue *q, void **out)
{
	int ret;

	pthread_mutex_lock(&q->lock);
	while (q->count == 0 && !q->closed && !q->aborted)
		wait_not_empty(q);
	if (q->aborted) {
		ret = -ECANCELED;
	} else if (q->count == 0) {
		ret = 0;
	} else {
		*out = q->items[q->head];
		q->head = (q->head + 1) % q->capacity;
		q->count--;
		pthread_cond_signal(&q->not_full);
		ret = 1;
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int bqueue_pop_batch(struct bqueue *q, void **out, size_t max)
{
	return bqueue_pop_batch_weighted(q, out, max, NULL, 0);
}

/* With the lock held: move up to max items (and, with weight, no more
 * than budget of summed weight past the first) to out; wakes producers. */
static size_t take_locked(struct bqueue *q, void **out, size_t max,
			  uint64_t (*weight)(const void *item), uint64_t budget)
{
	uint64_t used = 0;
	size_t n = 0;

	while (n < max && q->count) {
		void *item = q->items[q->head];

		if (weight) {
			uint64_t w = weight(item);

			if (n && (w > budget || used + w > budget))
				break;
			used += w;
		}
		out[n++] = item;
		q->head = (q->head + 1) % q->capacity;
		q->count--;
	}
	if (n)
		pthread_cond_broadcast(&q->not_full);
	return n;
}

int bqueue_pop_batch_weighted(struct bqueue *q, void **out, size_t max,
			      uint64_t (*weight)(const void *item),
			      uint64_t budget)
{
	int ret;

	if (!max)
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	while (q->count == 0 && !q->closed && !q->aborted)
		wait_not_empty(q);
	ret = q->aborted ? -ECANCELED :
	      (int)take_locked(q, out, max, weight, budget);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int bqueue_try_pop_batch(struct bqueue *q, void **out, size_t max,
			 bool *ended)
{
	return bqueue_try_pop_batch_weighted(q, out, max, NULL, 0, ended);
}

int bqueue_try_pop_batch_weighted(struct bqueue *q, void **out, size_t max,
				  uint64_t (*weight)(const void *item),
				  uint64_t budget, bool *ended)
{
	int ret;

	*ended = false;
	if (!max)
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	if (q->aborted) {
		ret = -ECANCELED;
	} else {
		/* leave one item to each consumer blocked in a pop */
		size_t spare = q->count > q->waiting ?
			       q->count - q->waiting : 0;

		ret = spare ? (int)take_locked(q, out, max < spare ? max :
					       spare, weight, budget) : 0;
		*ended = !ret && !q->count && q->closed;
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

size_t bqueue_waiting(struct bqueue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->waiting;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void bqueue_close(struct bqueue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->not_full);
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

void bqueue_abort(struct bqueue *q)
{
	pthread_mutex_lock(&q->lock);
	q->aborted = true;
	pthread_cond_broadcast(&q->not_full);
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

int bqueue_drain(struct bqueue *q, void **out)
{
	int ret = 0;

	pthread_mutex_lock(&q->lock);
	if (q->count) {
		*out = q->items[q->head];
		q->head = (q->head + 1) % q->capacity;
		q->count--;
		ret = 1;
		/* a producer may wait for this room: the network thread
		 * takes its requests here, not in a blocking pop */
		pthread_cond_signal(&q->not_full);
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}
