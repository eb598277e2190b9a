/* hardlinks: chained hash table of (dev, ino) -> first member's name. A
 * node counts the links still to come; the last one frees it, so a group
 * whose links all lie in the tree costs memory only between its first
 * and last member (a group reaching outside the tree stays to the end). */
#include "hardlinks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct hl_node {
	struct hl_node *next;
	uint64_t dev, ino;
	uint64_t left;          /* links not seen yet */
	size_t len;
	char name[];            /* the first member's, NUL-terminated */
};

struct hardlinks {
	struct hl_node **b;
	size_t nb;              /* buckets, a power of two */
	uint64_t held, groups, max;
	/* the node the last call freed: its name is what *first borrows */
	struct hl_node *retired;
};

int hardlinks_new(uint64_t max_groups, struct hardlinks **out)
{
	struct hardlinks *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->nb = 1024;
	h->b = calloc(h->nb, sizeof(*h->b));
	if (!h->b) {
		free(h);
		return -ENOMEM;
	}
	h->max = max_groups ? max_groups : HARDLINKS_MAX_GROUPS;
	*out = h;
	return 0;
}

void hardlinks_free(struct hardlinks *h)
{
	struct hl_node *n, *next;
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->nb; i++)
		for (n = h->b[i]; n; n = next) {
			next = n->next;
			free(n);
		}
	free(h->retired);
	free(h->b);
	free(h);
}

static size_t bucket(const struct hardlinks *h, uint64_t dev, uint64_t ino)
{
	uint64_t x = ino * 0x9e3779b97f4a7c15ULL ^ dev * 0xc2b2ae3d27d4eb4fULL;

	return (size_t)(x >> 32) & (h->nb - 1);
}

/* Double the buckets when the chains grow long (best effort). */
static void grow(struct hardlinks *h)
{
	size_t nb = h->nb * 2, i;
	struct hl_node **b = calloc(nb, sizeof(*b)), *n, *next, **old = h->b;
	size_t old_nb = h->nb;

	if (!b)
		return;
	h->b = b;
	h->nb = nb;
	for (i = 0; i < old_nb; i++)
		for (n = old[i]; n; n = next) {
			size_t k = bucket(h, n->dev, n->ino);

			next = n->next;
			n->next = b[k];
			b[k] = n;
		}
	free(old);
}

int hardlinks_add(struct hardlinks *h, uint64_t dev, uint64_t ino,
		  uint64_t nlink, const char *name, size_t len,
		  const char **first, size_t *first_len)
{
	struct hl_node *n, **pp;
	size_t k = bucket(h, dev, ino);

	free(h->retired);
	h->retired = NULL;
	for (pp = &h->b[k]; (n = *pp) != NULL; pp = &n->next) {
		if (n->dev != dev || n->ino != ino)
			continue;
		*first = n->name;
		*first_len = n->len;
		if (n->left > 0)
			n->left--;
		if (n->left == 0) {
			/* the last link: the group is complete */
			*pp = n->next;
			h->retired = n;
			h->held--;
		}
		return 1;
	}
	if (h->held >= h->max)
		return -ENOSPC;
	n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return -ENOMEM;
	n->dev = dev;
	n->ino = ino;
	n->left = nlink > 1 ? nlink - 1 : 1;
	n->len = len;
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	n->next = h->b[k];
	h->b[k] = n;
	h->held++;
	h->groups++;
	if (h->held > h->nb * 2)
		grow(h);
	return 0;
}

uint64_t hardlinks_groups(const struct hardlinks *h)
{
	return h->groups;
}

uint64_t hardlinks_held(const struct hardlinks *h)
{
	return h->held;
}
