/* heap_verify: the claim table of make-snapshot --verify-heap (a set of
 * settled ids, and the few ids held by workers right now) and the
 * check/repair steps with their counts and log lines. */
#include "heap_verify.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idset.h"
#include "banned.h"

struct heap_verify {
	struct heap *heap;
	struct logger log;
	pthread_mutex_t lock;
	pthread_cond_t settled_cv;  /* a held id was released */
	struct idset *settled;
	/* held ids: at most one per worker, so a short array */
	struct objid *held;
	size_t nheld, cap;
	uint64_t verified, repaired;  /* atomic */
};

int heap_verify_new(struct heap *h, const struct logger *log,
		    struct heap_verify **out, struct errbuf *eb)
{
	struct heap_verify *v = calloc(1, sizeof(*v));
	int ret;

	*out = NULL;
	if (!v)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	ret = idset_new(0, &v->settled);
	if (ret < 0) {
		free(v);
		return errbuf_set(eb, ret, "out of memory");
	}
	v->heap = h;
	v->log = *log;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->settled_cv, NULL);
	*out = v;
	return 0;
}

void heap_verify_free(struct heap_verify *v)
{
	if (!v)
		return;
	idset_free(v->settled);
	free(v->held);
	pthread_cond_destroy(&v->settled_cv);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

int heap_verify_claim(struct heap_verify *v, const struct objid *id,
		      struct errbuf *eb)
{
	int ret = 1;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		if (idset_has(v->settled, id)) {
			ret = 0;
			break;
		}
		if (objid_find(v->held, v->nheld, id) == SIZE_MAX)
			break;
		pthread_cond_wait(&v->settled_cv, &v->lock);
	}
	if (ret == 1 && v->nheld == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		struct objid *p = realloc(v->held, cap * sizeof(*p));

		if (!p)
			ret = errbuf_set(eb, -ENOMEM, "out of memory");
		else {
			v->held = p;
			v->cap = cap;
		}
	}
	if (ret == 1)
		v->held[v->nheld++] = *id;
	pthread_mutex_unlock(&v->lock);
	return ret;
}

void heap_verify_settle(struct heap_verify *v, const struct objid *id,
			bool sound)
{
	size_t i;

	pthread_mutex_lock(&v->lock);
	i = objid_find(v->held, v->nheld, id);
	if (i != SIZE_MAX)
		v->held[i] = v->held[--v->nheld];
	/* out of memory here only costs a second check of the object */
	if (sound)
		(void)idset_add(v->settled, id);
	pthread_cond_broadcast(&v->settled_cv);
	pthread_mutex_unlock(&v->lock);
}

int heap_verify_check(struct heap_verify *v, const struct objid *id,
		      struct hasher *hs, void *buf, size_t cap,
		      struct errbuf *eb)
{
	int ret = heap_check_object(v->heap, id, hs, buf, cap, NULL, eb);

	if (ret >= 0)
		__atomic_add_fetch(&v->verified, 1, __ATOMIC_RELAXED);
	return ret;
}

int heap_verify_repair(struct heap_verify *v, const struct objid *id,
		       const char *why, int src, const char *shown,
		       struct hasher *hs, void *buf, size_t cap,
		       struct errbuf *eb)
{
	char hex[OBJID_HEX_LEN + 1], prefix[OBJID_HEX_LEN + 16];
	int ret;

	objid_to_hex(id, hex);
	/* heap_check_object's "heap object <hex>: why": the hex is said */
	snprintf(prefix, sizeof(prefix), "heap object %s: ", hex);
	if (!strncmp(why, prefix, strlen(prefix)))
		why += strlen(prefix);
	ret = heap_replace_object(v->heap, id, src, shown, hs, buf, cap, eb);
	if (ret == 0) {
		__atomic_add_fetch(&v->repaired, 1, __ATOMIC_RELAXED);
		log_warn(&v->log, "repaired heap object %s in '%s': %s; "
			 "written again from '%s'", hex, heap_root(v->heap),
			 why, shown);
	} else if (ret == -ESTALE) {
		log_warn(&v->log, "cannot repair heap object %s in '%s' (%s): "
			 "'%s' changed since it was hashed; reading it again",
			 hex, heap_root(v->heap), why, shown);
	}
	return ret;
}

void heap_verify_counts(const struct heap_verify *v, uint64_t *verified,
			uint64_t *repaired)
{
	*verified = __atomic_load_n(&v->verified, __ATOMIC_RELAXED);
	*repaired = __atomic_load_n(&v->repaired, __ATOMIC_RELAXED);
}
