/* link_map: chained hash table, group key -> local leader. */
#include "link_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct lm_node {
	struct lm_node *next;
	char *leader;           /* owned, or NULL until one is written */
	size_t leader_len;
	struct objid md5;
	uint64_t size;
	size_t len;
	char key[];
};

struct link_map {
	struct lm_node **b;
	size_t nb;
	uint64_t n, max;
};

int link_map_new(uint64_t max_groups, struct link_map **out)
{
	struct link_map *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->nb = 1024;
	m->b = calloc(m->nb, sizeof(*m->b));
	if (!m->b) {
		free(m);
		return -ENOMEM;
	}
	m->max = max_groups;
	*out = m;
	return 0;
}

void link_map_free(struct link_map *m)
{
	struct lm_node *n, *next;
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nb; i++)
		for (n = m->b[i]; n; n = next) {
			next = n->next;
			free(n->leader);
			free(n);
		}
	free(m->b);
	free(m);
}

static size_t hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

static struct lm_node *find(const struct link_map *m, const char *key,
			    size_t len)
{
	struct lm_node *n;

	for (n = m->b[hash(key, len) & (m->nb - 1)]; n; n = n->next)
		if (n->len == len && !memcmp(n->key, key, len))
			return n;
	return NULL;
}

static void grow(struct link_map *m)
{
	size_t nb = m->nb * 2, i;
	struct lm_node **b = calloc(nb, sizeof(*b)), *n, *next;

	if (!b)
		return;
	for (i = 0; i < m->nb; i++)
		for (n = m->b[i]; n; n = next) {
			size_t k = hash(n->key, n->len) & (nb - 1);

			next = n->next;
			n->next = b[k];
			b[k] = n;
		}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

int link_map_want(struct link_map *m, const char *first, size_t len)
{
	struct lm_node *n;
	size_t k;

	if (find(m, first, len))
		return 0;
	if (m->n >= m->max)
		return -ENOSPC;
	n = calloc(1, sizeof(*n) + len + 1);
	if (!n)
		return -ENOMEM;
	memcpy(n->key, first, len);
	n->len = len;
	k = hash(first, len) & (m->nb - 1);
	n->next = m->b[k];
	m->b[k] = n;
	if (++m->n > m->nb * 2)
		grow(m);
	return 0;
}

bool link_map_has_group(struct link_map *m, const struct entry *e)
{
	if (e->type != ENTRY_FILE)
		return false;
	return e->link ? find(m, e->link, e->link_len) != NULL :
	       find(m, e->name, e->name_len) != NULL;
}

int link_map_member(struct link_map *m, const struct entry *e,
		    const char **leader, size_t *leader_len)
{
	struct lm_node *n;

	if (e->type != ENTRY_FILE || !e->has_md5)
		return 0;
	n = e->link ? find(m, e->link, e->link_len) :
	    find(m, e->name, e->name_len);
	if (!n)
		return 0;
	if (n->leader) {
		/* a member whose content differs (changed while the group
		 * was scanned) is no link of the others */
		if (!e->link || !objid_eq(&n->md5, &e->md5) ||
		    n->size != e->size)
			return 0;
		*leader = n->leader;
		*leader_len = n->leader_len;
		return 1;
	}
	n->leader = malloc(e->name_len + 1);
	if (!n->leader)
		return -ENOMEM;
	memcpy(n->leader, e->name, e->name_len + 1);
	n->leader_len = e->name_len;
	n->md5 = e->md5;
	n->size = e->size;
	return 0;
}
