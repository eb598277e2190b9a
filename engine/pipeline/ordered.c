/* ordered: ring of slots; head = next to consume, tail = next to reserve. */
#include "ordered.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct ordered {
	pthread_mutex_t lock;
	pthread_cond_t space;     /* producer waits for a free slot */
	pthread_cond_t ready;     /* consumer waits for head to complete */
	struct ordered_slot *slots;
	size_t window;
	uint64_t head;
	uint64_t tail;
	size_t wake_room;         /* free slots that wake a waiting producer */
	bool producer_waiting;
	bool consumer_waiting;
	bool closed;
	bool aborted;
};

int ordered_new(size_t window, struct ordered **out)
{
	struct ordered *o;

	*out = NULL;
	if (!window)
		return -EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->slots = calloc(window, sizeof(*o->slots));
	if (!o->slots) {
		free(o);
		return -ENOMEM;
	}
	o->window = window;
	/* wake the producer for a quarter of the window, not for every
	 * slot: one wake-up per entry was the run's top context switch */
	o->wake_room = window / 4 ? window / 4 : 1;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->space, NULL);
	pthread_cond_init(&o->ready, NULL);
	*out = o;
	return 0;
}

void ordered_free(struct ordered *o)
{
	uint64_t i;

	if (!o)
		return;
	/* entries still in the window after an abort */
	for (i = o->head; i < o->tail; i++)
		entry_release(&o->slots[i % o->window].entry);
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->space);
	pthread_cond_destroy(&o->ready);
	free(o->slots);
	free(o);
}

struct ordered_slot *ordered_reserve(struct ordered *o)
{
	struct ordered_slot *s = NULL;

	pthread_mutex_lock(&o->lock);
	while (o->tail - o->head == o->window && !o->aborted) {
		o->producer_waiting = true;
		pthread_cond_wait(&o->space, &o->lock);
	}
	if (!o->aborted && !o->closed) {
		s = &o->slots[o->tail % o->window];
		memset(s, 0, sizeof(*s));
		s->seq = o->tail++;
	}
	pthread_mutex_unlock(&o->lock);
	return s;
}

void ordered_complete(struct ordered *o, struct ordered_slot *slot)
{
	ordered_complete_batch(o, &slot, 1);
}

void ordered_complete_batch(struct ordered *o, struct ordered_slot **slots,
			    size_t n)
{
	size_t i;

	pthread_mutex_lock(&o->lock);
	for (i = 0; i < n; i++)
		slots[i]->done = 1;
	/* the consumer waits only for the head slot */
	if (o->consumer_waiting && o->head < o->tail &&
	    o->slots[o->head % o->window].done)
		pthread_cond_signal(&o->ready);
	pthread_mutex_unlock(&o->lock);
}

void ordered_close(struct ordered *o)
{
	pthread_mutex_lock(&o->lock);
	o->closed = true;
	pthread_cond_broadcast(&o->ready);
	pthread_mutex_unlock(&o->lock);
}

struct ordered_slot *ordered_next(struct ordered *o)
{
	struct ordered_slot *s;

	return ordered_next_batch(o, &s, 1) ? s : NULL;
}

size_t ordered_next_batch(struct ordered *o, struct ordered_slot **out,
			  size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		if (o->aborted)
			break;
		while (n < max && o->head + n < o->tail) {
			struct ordered_slot *s =
				&o->slots[(o->head + n) % o->window];

			if (!s->done)
				break;
			out[n++] = s;
		}
		if (n || (o->head == o->tail && o->closed))
			break;
		o->consumer_waiting = true;
		pthread_cond_wait(&o->ready, &o->lock);
		o->consumer_waiting = false;
	}
	pthread_mutex_unlock(&o->lock);
	return n;
}

void ordered_release(struct ordered *o, struct ordered_slot *slot)
{
	ordered_release_batch(o, &slot, 1);
}

void ordered_release_batch(struct ordered *o, struct ordered_slot **slots,
			   size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		entry_release(&slots[i]->entry);
	pthread_mutex_lock(&o->lock);
	o->head += n;
	if (o->producer_waiting &&
	    o->window - (size_t)(o->tail - o->head) >= o->wake_room) {
		o->producer_waiting = false;
		pthread_cond_signal(&o->space);
	}
	pthread_mutex_unlock(&o->lock);
}

void ordered_abort(struct ordered *o)
{
	pthread_mutex_lock(&o->lock);
	o->aborted = true;
	pthread_cond_broadcast(&o->space);
	pthread_cond_broadcast(&o->ready);
	pthread_mutex_unlock(&o->lock);
}
