/* idset: open-addressing set of object ids for the remote heap. The ids
 * are MD5s, but they come from a listing anyone with write access to the
 * bucket controls, so slots are chosen by a keyed mix of all 16 bytes.
 * The all-zero id marks an empty slot and is tracked by a flag instead. */
#include "idset.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "banned.h"

#define IDSET_MIN_CAP 1024

struct idset {
	pthread_mutex_t lock;
	struct objid *slots;
	size_t cap;               /* power of two */
	size_t count;             /* ids in slots (the zero id excluded) */
	bool has_zero;
	uint64_t seed[2];
};

static const struct objid zero_id;

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static size_t slot_of(const struct idset *s, const struct objid *id)
{
	uint64_t h = mix(load64(id->b) ^ s->seed[0]) ^
		     mix(load64(id->b + 8) ^ s->seed[1]);

	return (size_t)h & (s->cap - 1);
}

static size_t round_cap(size_t expected)
{
	size_t cap = IDSET_MIN_CAP;

	while (cap / 4 * 3 < expected && cap < SIZE_MAX / 4)
		cap *= 2;
	return cap;
}

int idset_new(size_t expected, struct idset **out)
{
	struct idset *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cap = round_cap(expected);
	s->slots = calloc(s->cap, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return -ENOMEM;
	}
	if (getrandom(s->seed, sizeof(s->seed), 0) != sizeof(s->seed)) {
		s->seed[0] = (uint64_t)time(NULL);
		s->seed[1] = (uint64_t)(uintptr_t)s;
	}
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
}

void idset_free(struct idset *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s->slots);
	free(s);
}

/* slot holding id, or the empty slot where it would go */
static size_t probe(const struct idset *s, const struct objid *id)
{
	size_t i = slot_of(s, id);

	while (!objid_eq(&s->slots[i], &zero_id) &&
	       !objid_eq(&s->slots[i], id))
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int grow(struct idset *s)
{
	struct objid *old = s->slots;
	size_t ocap = s->cap, i;

	if (ocap > SIZE_MAX / 2 / sizeof(*old))
		return -ENOMEM;
	s->slots = calloc(ocap * 2, sizeof(*old));
	if (!s->slots) {
		s->slots = old;
		return -ENOMEM;
	}
	s->cap = ocap * 2;
	for (i = 0; i < ocap; i++)
		if (!objid_eq(&old[i], &zero_id))
			s->slots[probe(s, &old[i])] = old[i];
	free(old);
	return 0;
}

int idset_add(struct idset *s, const struct objid *id)
{
	size_t i;
	int ret = 1;

	pthread_mutex_lock(&s->lock);
	if (objid_eq(id, &zero_id)) {
		ret = s->has_zero ? 0 : 1;
		s->has_zero = true;
		goto out;
	}
	if ((s->count + 1) > s->cap / 4 * 3) {
		ret = grow(s);
		if (ret < 0)
			goto out;
		ret = 1;
	}
	i = probe(s, id);
	if (objid_eq(&s->slots[i], id)) {
		ret = 0;
		goto out;
	}
	s->slots[i] = *id;
	s->count++;
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

bool idset_has(struct idset *s, const struct objid *id)
{
	bool hit;

	pthread_mutex_lock(&s->lock);
	if (objid_eq(id, &zero_id))
		hit = s->has_zero;
	else
		hit = objid_eq(&s->slots[probe(s, id)], id);
	pthread_mutex_unlock(&s->lock);
	return hit;
}

size_t idset_count(struct idset *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->count + (s->has_zero ? 1 : 0);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void idset_clear(struct idset *s)
{
	pthread_mutex_lock(&s->lock);
	memset(s->slots, 0, s->cap * sizeof(*s->slots));
	s->count = 0;
	s->has_zero = false;
	pthread_mutex_unlock(&s->lock);
}

static int id_cmp(const void *a, const void *b)
{
	return objid_cmp(a, b);
}

int idset_export_sorted(struct idset *s, struct objid **out, size_t *n)
{
	struct objid *v = NULL;
	size_t i, k = 0, total;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->lock);
	total = s->count + (s->has_zero ? 1 : 0);
	if (total) {
		v = malloc(total * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&s->lock);
			return -ENOMEM;
		}
		if (s->has_zero)
			v[k++] = zero_id;
		for (i = 0; i < s->cap; i++)
			if (!objid_eq(&s->slots[i], &zero_id))
				v[k++] = s->slots[i];
	}
	pthread_mutex_unlock(&s->lock);
	if (k > 1)
		qsort(v, k, sizeof(*v), id_cmp);
	*out = v;
	*n = k;
	return 0;
}
