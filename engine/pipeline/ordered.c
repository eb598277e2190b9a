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
	while (o->tail - o->head == o->window && !o->aborted)
		pthread_cond_wait(&o->space, &o->lock);
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
	pthread_mutex_lock(&o->lock);
	slot->done = 1;
	if (slot->seq == o->head)
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
	struct ordered_slot *s = NULL;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		if (o->aborted)
			break;
		if (o->head < o->tail) {
			struct ordered_slot *h = &o->slots[o->head % o->window];

			if (h->done) {
				s = h;
				break;
			}
		} else if (o->closed) {
			break;
		}
		pthread_cond_wait(&o->ready, &o->lock);
	}
	pthread_mutex_unlock(&o->lock);
	return s;
}

void ordered_release(struct ordered *o, struct ordered_slot *slot)
{
	entry_release(&slot->entry);
	pthread_mutex_lock(&o->lock);
	o->head++;
	pthread_cond_signal(&o->space);
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
