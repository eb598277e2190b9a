/* owners: cached NSS lookups in both directions. Four small hash tables
 * (uid -> user, gid -> group, user -> uid, group -> gid) with chaining;
 * negative answers are cached too. A tree with more distinct ids than
 * OWNER_CACHE_MAX still works, asking NSS for the ids past the bound. */
#include "owners.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

#define OWNER_BUCKETS 256
#define OWNER_CACHE_MAX 65536   /* cached answers per table */
#define NSS_BUF_MAX (1 << 20)   /* getpwuid_r buffer bound (ERANGE loop) */

struct owner_node {
	struct owner_node *next;
	uint32_t id;
	bool found;             /* NSS knows it (else a cached miss) */
	char name[];            /* NUL-terminated, "" for a miss by id */
};

struct owner_table {
	struct owner_node *b[OWNER_BUCKETS];
	size_t n;
};

enum { T_USER_BY_ID, T_GROUP_BY_ID, T_UID_BY_NAME, T_GID_BY_NAME, T_N };

struct owner_cache {
	struct owner_table t[T_N];
	/* the last answer by id: a tree's files mostly share one owner */
	uint32_t last_uid, last_gid;
	const char *last_user, *last_group;
	bool has_last_uid, has_last_gid;
	/* scratch for NSS, grown on ERANGE */
	char *buf;
	size_t buf_len;
	/* answers past OWNER_CACHE_MAX are kept here until the next call of
	 * the same kind ([0] users, [1] groups: a user name must survive the
	 * group lookup that follows it) */
	char spill[2][256];
};

int owner_cache_new(struct owner_cache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void owner_cache_free(struct owner_cache *c)
{
	struct owner_node *n, *next;
	size_t t, i;

	if (!c)
		return;
	for (t = 0; t < T_N; t++)
		for (i = 0; i < OWNER_BUCKETS; i++)
			for (n = c->t[t].b[i]; n; n = next) {
				next = n->next;
				free(n);
			}
	free(c->buf);
	free(c);
}

static size_t hash_str(const char *s)
{
	size_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % OWNER_BUCKETS;
}

static struct owner_node *find_id(struct owner_table *t, uint32_t id)
{
	struct owner_node *n;

	for (n = t->b[id % OWNER_BUCKETS]; n; n = n->next)
		if (n->id == id)
			return n;
	return NULL;
}

static struct owner_node *find_name(struct owner_table *t, const char *name)
{
	struct owner_node *n;

	for (n = t->b[hash_str(name)]; n; n = n->next)
		if (!strcmp(n->name, name))
			return n;
	return NULL;
}

/* Cache an answer; NULL when the table is full or memory short (the
 * caller then answers from c->spill, uncached). */
static struct owner_node *add(struct owner_table *t, size_t bucket,
			      uint32_t id, bool found, const char *name)
{
	size_t len = strlen(name);
	struct owner_node *n;

	if (t->n >= OWNER_CACHE_MAX)
		return NULL;
	n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	n->id = id;
	n->found = found;
	memcpy(n->name, name, len + 1);
	n->next = t->b[bucket];
	t->b[bucket] = n;
	t->n++;
	return n;
}

static bool grow_buf(struct owner_cache *c)
{
	size_t len = c->buf_len ? c->buf_len * 2 : 1024;
	char *p;

	if (len > NSS_BUF_MAX)
		return false;
	p = realloc(c->buf, len);
	if (!p)
		return false;
	c->buf = p;
	c->buf_len = len;
	return true;
}

/* One NSS question: by id (name NULL) or by name. Fills *id / out with
 * the answer; true when found. */
static bool nss_ask(struct owner_cache *c, bool group, const char *name,
		    uint32_t *id, char *out, size_t cap)
{
	struct passwd pw, *pwr = NULL;
	struct group gr, *grr = NULL;
	const char *got;
	int rc;

	if (!c->buf && !grow_buf(c))
		return false;
	for (;;) {
		if (group)
			rc = name ? getgrnam_r(name, &gr, c->buf, c->buf_len,
					       &grr) :
				    getgrgid_r((gid_t)*id, &gr, c->buf,
					       c->buf_len, &grr);
		else
			rc = name ? getpwnam_r(name, &pw, c->buf, c->buf_len,
					       &pwr) :
				    getpwuid_r((uid_t)*id, &pw, c->buf,
					       c->buf_len, &pwr);
		if (rc != ERANGE || !grow_buf(c))
			break;
	}
	if (rc || (group ? !grr : !pwr))
		return false;
	got = group ? gr.gr_name : pw.pw_name;
	if (name) {
		*id = group ? (uint32_t)gr.gr_gid : (uint32_t)pw.pw_uid;
		return true;
	}
	if (!got || strlen(got) >= cap)
		return false;
	memcpy(out, got, strlen(got) + 1);
	return true;
}

static const char *name_of(struct owner_cache *c, bool group, uint32_t id)
{
	struct owner_table *t = &c->t[group ? T_GROUP_BY_ID : T_USER_BY_ID];
	struct owner_node *n = find_id(t, id);
	bool found;

	if (!n) {
		char *spill = c->spill[group];

		found = nss_ask(c, group, NULL, &id, spill, sizeof(c->spill[0]));
		if (!found)
			spill[0] = '\0';
		n = add(t, id % OWNER_BUCKETS, id, found, spill);
		if (!n)
			return found ? spill : NULL;
	}
	return n->found ? n->name : NULL;
}

const char *owner_cache_user(struct owner_cache *c, uint32_t uid)
{
	if (!c->has_last_uid || c->last_uid != uid) {
		c->last_user = name_of(c, false, uid);
		/* a spilled answer is not stable: do not remember it */
		c->has_last_uid = c->last_user != c->spill[0];
		c->last_uid = uid;
	}
	return c->last_user;
}

const char *owner_cache_group(struct owner_cache *c, uint32_t gid)
{
	if (!c->has_last_gid || c->last_gid != gid) {
		c->last_group = name_of(c, true, gid);
		c->has_last_gid = c->last_group != c->spill[1];
		c->last_gid = gid;
	}
	return c->last_group;
}

static bool id_of(struct owner_cache *c, bool group, const char *name,
		  uint32_t *id)
{
	struct owner_table *t = &c->t[group ? T_GID_BY_NAME : T_UID_BY_NAME];
	struct owner_node *n = find_name(t, name);
	bool found;

	if (n) {
		*id = n->id;
		return n->found;
	}
	*id = 0;
	found = nss_ask(c, group, name, id, NULL, 0);
	add(t, hash_str(name), *id, found, name);
	return found;
}

bool owner_cache_uid(struct owner_cache *c, const char *name, uint32_t *id)
{
	return id_of(c, false, name, id);
}

bool owner_cache_gid(struct owner_cache *c, const char *name, uint32_t *id)
{
	return id_of(c, true, name, id);
}
