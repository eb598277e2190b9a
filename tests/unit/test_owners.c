/* test_owners: owners and hard links. The NSS cache, the scan's link
 * table, snapshot keys 11-15 through the writer and the reader, and, as
 * root, restore of recorded owners (names mapped to local ids, or the
 * numbers with --numeric-ids) and link groups, and of a snapshot written
 * without the keys (as by the version before them). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "entry.h"
#include "errbuf.h"
#include "hardlinks.h"
#include "link_map.h"
#include "owners.h"
#include "snapshot.h"
#include "snapshot_reader.h"
#include "snapshot_writer.h"
#include "test.h"

#include "banned.h"

static char base[64];

/* ---- owner cache ---- */

static void test_owner_cache(void)
{
	struct owner_cache *c = NULL;
	const char *a, *b;
	uint32_t id = 99;

	CHECK_EQ(owner_cache_new(&c), 0);
	if (!c)
		return;
	CHECK_STREQ(owner_cache_user(c, 0), "root");
	CHECK_STREQ(owner_cache_group(c, 0), "root");
	/* answers are cached: the same string again */
	a = owner_cache_user(c, 0);
	(void)owner_cache_user(c, 1);
	b = owner_cache_user(c, 0);
	CHECK(a == b);
	CHECK(owner_cache_user(c, 3999999999u) == NULL);
	CHECK(owner_cache_uid(c, "root", &id));
	CHECK_EQ(id, 0);
	CHECK(owner_cache_gid(c, "root", &id));
	CHECK_EQ(id, 0);
	CHECK(!owner_cache_uid(c, "no-such-user-snapshooter", &id));
	CHECK(!owner_cache_uid(c, "no-such-user-snapshooter", &id));
	CHECK(!owner_cache_gid(c, "no-such-group-snapshooter", &id));
	owner_cache_free(c);
	owner_cache_free(NULL);
}

/* ---- the scan's link table ---- */

static void test_hardlinks(void)
{
	struct hardlinks *h = NULL;
	const char *first = NULL;
	size_t len = 0;

	CHECK_EQ(hardlinks_new(2, &h), 0);
	if (!h)
		return;
	CHECK_EQ(hardlinks_add(h, 1, 10, 3, "a", 1, &first, &len), 0);
	CHECK_EQ(hardlinks_add(h, 1, 10, 3, "d/b", 3, &first, &len), 1);
	CHECK_STREQ(first, "a");
	CHECK_EQ(len, 1);
	/* same inode number on another device: another group */
	CHECK_EQ(hardlinks_add(h, 2, 10, 2, "c", 1, &first, &len), 0);
	CHECK_EQ(hardlinks_held(h), 2);
	/* bounded: a third group at once is refused, not grown into */
	CHECK_EQ(hardlinks_add(h, 1, 12, 2, "e", 1, &first, &len), -ENOSPC);
	/* the group's last link frees its place */
	CHECK_EQ(hardlinks_add(h, 1, 10, 3, "f", 1, &first, &len), 1);
	CHECK_STREQ(first, "a");
	CHECK_EQ(hardlinks_held(h), 1);
	CHECK_EQ(hardlinks_add(h, 1, 12, 2, "g", 1, &first, &len), 0);
	CHECK_EQ(hardlinks_groups(h), 3);
	hardlinks_free(h);
	hardlinks_free(NULL);

	/* many groups: the table grows and still finds each */
	CHECK_EQ(hardlinks_new(0, &h), 0);
	if (!h)
		return;
	{
		char name[32];
		int i, bad = 0;

		for (i = 0; i < 20000; i++) {
			snprintf(name, sizeof(name), "n%d", i);
			bad += hardlinks_add(h, 7, (uint64_t)i, 2, name,
					     strlen(name), &first, &len) != 0;
		}
		CHECK_EQ(bad, 0);
		for (i = 0; i < 20000; i += 997) {
			snprintf(name, sizeof(name), "n%d", i);
			CHECK_EQ(hardlinks_add(h, 7, (uint64_t)i, 2, "x", 1,
					       &first, &len), 1);
			CHECK_STREQ(first, name);
		}
	}
	hardlinks_free(h);
}

/* ---- restore's link map ---- */

static void test_link_map(void)
{
	struct link_map *m = NULL;
	struct entry a = ENTRY_INIT, b = ENTRY_INIT, c = ENTRY_INIT;
	const char *leader = NULL;
	size_t len = 0;

	CHECK_EQ(link_map_new(10, &m), 0);
	if (!m)
		return;
	/* group "x": x is left out by a filter, y and z remain */
	CHECK_EQ(link_map_want(m, "x", 1), 0);
	CHECK_EQ(link_map_want(m, "x", 1), 0);
	entry_set_name(&a, "y", 1);
	entry_set_link(&a, "x", 1);
	entry_set_name(&b, "z", 1);
	entry_set_link(&b, "x", 1);
	entry_set_name(&c, "z2", 2);
	entry_set_link(&c, "x", 1);
	a.type = b.type = c.type = ENTRY_FILE;
	a.has_md5 = b.has_md5 = c.has_md5 = true;
	a.size = b.size = c.size = 5;
	c.md5.b[0] = 1;   /* changed while the group was scanned */
	CHECK_EQ(link_map_member(m, &a, &leader, &len), 0);
	CHECK_EQ(link_map_member(m, &b, &leader, &len), 1);
	CHECK_STREQ(leader, "y");
	CHECK_EQ(len, 1);
	CHECK_EQ(link_map_member(m, &c, &leader, &len), 0);
	entry_release(&a);
	entry_release(&b);
	entry_release(&c);
	link_map_free(m);
}

/* ---- snapshot keys 11-15 ---- */

struct mem {
	uint8_t *p;
	size_t len, cap, pos;
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
	struct mem *m = ctx;

	if (m->len + len > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 4096;
		uint8_t *np;

		while (ncap < m->len + len)
			ncap *= 2;
		np = realloc(m->p, ncap);
		if (!np)
			return -ENOMEM;
		m->p = np;
		m->cap = ncap;
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem *m = ctx;
	size_t n = m->len - m->pos;

	if (n > len)
		n = len;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static void file_entry(struct entry *e, const char *name, uint8_t md5)
{
	entry_init(e);
	entry_set_name(e, name, strlen(name));
	e->type = ENTRY_FILE;
	e->size = 3;
	e->mtime_ns = 1000;
	e->mode = 0644;
	e->has_md5 = true;
	memset(e->md5.b, md5, sizeof(e->md5.b));
}

static void test_snapshot_keys(void)
{
	struct snapshot_header h = { .version = 1, .created_ns = 5,
				     .has_root_owner = true, .root_uid = 77,
				     .root_gid = 88, .root_group = "staff" };
	struct snapshot_writer *w = NULL;
	struct snapshot_reader *r = NULL;
	struct errbuf eb = ERRBUF_INIT;
	struct entry e[6], got = ENTRY_INIT, bad;
	size_t len_names;
	struct mem m = { 0 };
	int i, rc;

	file_entry(&e[0], "a", 1);
	e[0].has_owner = true;
	e[0].uid = 1234;
	e[0].gid = 4000000000u;
	entry_set_owner_names(&e[0], "daemon", "staff");
	file_entry(&e[1], "b", 1);
	e[1].has_owner = true;   /* numbers without names (no NSS name) */
	e[1].uid = 0;
	e[1].gid = 0;
	entry_set_link(&e[1], "a", 1);
	file_entry(&e[2], "c", 2);  /* as written before keys 11-15 */
	entry_init(&e[3]);
	entry_set_name(&e[3], "d", 1);
	e[3].type = ENTRY_SYMLINK;
	entry_set_target(&e[3], "a", 1);
	e[3].has_owner = true;
	e[3].uid = 7;
	e[3].gid = 8;
	entry_set_owner_names(&e[3], NULL, "grp");
	/* a run of one owner: the names are written once, and read back
	 * on every entry */
	for (i = 4; i < 6; i++) {
		file_entry(&e[i], i == 4 ? "e" : "f", 4);
		e[i].has_owner = true;
		e[i].uid = 7;
		e[i].gid = 8;
		entry_set_owner_names(&e[i], "u7", "grp");
	}

	CHECK_EQ(snapshot_writer_new(mem_write, &m, &h, &w, &eb), 0);
	for (i = 0; w && i < 6; i++)
		CHECK_EQ(snapshot_writer_add(w, &e[i], &eb), 0);
	/* a link must name an earlier entry, and only files have one */
	file_entry(&bad, "e", 3);
	entry_set_link(&bad, "z", 1);
	CHECK_ERR(snapshot_writer_add(w, &bad, &eb), EINVAL);
	entry_release(&bad);
	snapshot_writer_free(w);

	w = NULL;
	m.len = 0;
	CHECK_EQ(snapshot_writer_new(mem_write, &m, &h, &w, &eb), 0);
	for (i = 0; w && i < 6; i++)
		CHECK_EQ(snapshot_writer_add(w, &e[i], &eb), 0);
	CHECK_EQ(snapshot_writer_finish(w, &eb), 0);
	snapshot_writer_free(w);
	/* "u7" once (entry e), "grp" once (entry d): 2 + 4 bytes each */
	len_names = 0;
	for (i = 0; i + 3 <= (int)m.len; i++)
		len_names += !memcmp(m.p + i, "grp", 3) + !memcmp(m.p + i, "u7", 2);
	CHECK_EQ(len_names, 2);

	CHECK_EQ(snapshot_reader_new(mem_read, &m, "mem", &r, &eb), 0);
	if (r) {
		const struct snapshot_header *rh = snapshot_reader_header(r);

		CHECK(rh->has_root_owner);
		CHECK_EQ(rh->root_uid, 77);
		CHECK_EQ(rh->root_gid, 88);
		CHECK_STREQ(rh->root_user, "");
		CHECK_STREQ(rh->root_group, "staff");
	}
	for (i = 0; r && i < 6; i++) {
		rc = snapshot_reader_next(r, &got, &eb);
		CHECK_EQ(rc, 1);
		if (rc != 1)
			break;
		CHECK_STREQ(got.name, e[i].name);
		CHECK_EQ(got.has_owner, e[i].has_owner);
		CHECK_EQ(got.uid, e[i].uid);
		CHECK_EQ(got.gid, e[i].gid);
		CHECK_EQ(got.user != NULL, e[i].user != NULL);
		CHECK_EQ(got.group != NULL, e[i].group != NULL);
		if (e[i].user)
			CHECK_STREQ(got.user, e[i].user);
		if (e[i].group)
			CHECK_STREQ(got.group, e[i].group);
		CHECK_EQ(got.link != NULL, e[i].link != NULL);
		if (e[i].link) {
			CHECK_STREQ(got.link, e[i].link);
			CHECK_EQ(got.link_len, e[i].link_len);
		}
		entry_release(&got);
	}
	CHECK_EQ(snapshot_reader_next(r, &got, &eb), 0);
	snapshot_reader_free(r);
	for (i = 0; i < 6; i++)
		entry_release(&e[i]);
	free(m.p);
}

/* ---- restore, as root ---- */

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void opts_for(struct engine_opts *o, const char *root)
{
	static char heap[512], snap[512];

	memset(o, 0, sizeof(*o));
	engine_opts_defaults(o);
	o->progress = false;
	o->log.level = LOG_CRITICAL;
	o->file_root = root;
	snprintf(heap, sizeof(heap), "%s/heap", base);
	snprintf(snap, sizeof(snap), "%s/snaps", base);
	o->heap_root = heap;
	o->snap_root = snap;
}

static int write_fd(void *ctx, const void *buf, size_t len)
{
	return write(*(int *)ctx, buf, len) == (ssize_t)len ? 0 : -EIO;
}

static ssize_t read_fd(void *ctx, void *buf, size_t len)
{
	ssize_t n = read(*(int *)ctx, buf, len);

	return n < 0 ? -errno : n;
}

/* Copy snapshot in to out, giving "f" the owner uid:gid named
 * user:group, or (old) dropping keys 11-15 from every entry. */
static int rewrite(const char *in, const char *out, bool old, uint32_t uid,
		   uint32_t gid, const char *user, const char *group)
{
	struct snapshot_reader *r = NULL;
	struct snapshot_writer *w = NULL;
	struct errbuf eb = ERRBUF_INIT;
	struct snapshot_header h;
	struct entry e;
	int ifd = open(in, O_RDONLY), ofd, rc;

	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	rc = snapshot_reader_new(read_fd, &ifd, in, &r, &eb);
	if (!rc) {
		h = *snapshot_reader_header(r);
		rc = snapshot_writer_new(write_fd, &ofd, &h, &w, &eb);
	}
	while (!rc && (rc = snapshot_reader_next(r, &e, &eb)) == 1) {
		if (old) {
			free(e.link);
			e.link = NULL;
			e.has_owner = false;
		} else if (!strcmp(e.name, "f")) {
			e.uid = uid;
			e.gid = gid;
			entry_set_owner_names(&e, user, group);
		}
		rc = snapshot_writer_add(w, &e, &eb);
		entry_release(&e);
	}
	if (!rc)
		rc = snapshot_writer_finish(w, &eb);
	if (rc)
		fprintf(stderr, "rewrite: %s\n", eb.msg);
	snapshot_writer_free(w);
	snapshot_reader_free(r);
	close(ifd);
	close(ofd);
	return rc;
}

static int restore(const char *snap, const char *dst, bool numeric)
{
	struct engine_opts o;
	struct restore_opts ro = { .path = snap, .numeric_ids = numeric };
	struct run_stats st = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	int rc;

	opts_for(&o, dst);
	rc = engine_restore(&o, &ro, &st, &eb);
	if (rc)
		fprintf(stderr, "restore: %s\n", eb.msg);
	return rc;
}

static void stat_of(const char *dir, const char *name, struct stat *st)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s/%s", base, dir, name);
	memset(st, 0, sizeof(*st));
	CHECK_EQ(lstat(p, st), 0);
}

static void test_restore_owners(void)
{
	struct engine_opts o;
	struct make_snapshot_opts mo = { .save = true };
	struct run_stats st = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	struct passwd *pw = getpwnam("daemon");
	struct group *gr = getgrnam("daemon");
	char src[128], cmd[2048], crafted[512], old[512], dst[512];
	struct stat a, b, c;
	char *snap = NULL;
	uint32_t duid, dgid;

	if (geteuid() != 0 || !pw || !gr) {
		fprintf(stderr, "restore checks skipped: need root and the "
			"user and group daemon\n");
		return;
	}
	duid = pw->pw_uid;
	dgid = gr->gr_gid;
	snprintf(src, sizeof(src), "%.64s/src", base);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/d && echo f >%s/f && "
		 "echo l >%s/h1 && ln %s/h1 %s/d/h2 && ln %s/h1 %s/d/h3", src,
		 src, src, src, src, src, src);
	CHECK_EQ(sh(cmd), 0);
	opts_for(&o, src);
	CHECK_EQ(engine_make_snapshot(&o, &mo, &st, &snap, &eb), 0);
	if (!snap) {
		fprintf(stderr, "make-snapshot: %s\n", eb.msg);
		return;
	}

	/* a name this system knows: its local id, whatever the number */
	snprintf(crafted, sizeof(crafted), "%s/crafted.msgpack", base);
	CHECK_EQ(rewrite(snap, crafted, false, duid + 1000, dgid + 2000,
			 "daemon", "daemon"), 0);
	snprintf(dst, sizeof(dst), "%s/byname", base);
	CHECK_EQ(restore(crafted, dst, false), 0);
	stat_of("byname", "f", &a);
	CHECK_EQ(a.st_uid, duid);
	CHECK_EQ(a.st_gid, dgid);
	/* the link group: one inode, across directories */
	stat_of("byname", "h1", &a);
	stat_of("byname", "d/h2", &b);
	stat_of("byname", "d/h3", &c);
	CHECK_EQ(a.st_ino, b.st_ino);
	CHECK_EQ(a.st_ino, c.st_ino);
	CHECK_EQ(a.st_nlink, 3);

	/* --numeric-ids: the recorded numbers */
	snprintf(dst, sizeof(dst), "%s/numeric", base);
	CHECK_EQ(restore(crafted, dst, true), 0);
	stat_of("numeric", "f", &a);
	CHECK_EQ(a.st_uid, duid + 1000);
	CHECK_EQ(a.st_gid, dgid + 2000);

	/* a name this system lacks: the number */
	CHECK_EQ(rewrite(snap, crafted, false, 4321, 8765,
			 "no-such-user-snapshooter",
			 "no-such-group-snapshooter"), 0);
	snprintf(dst, sizeof(dst), "%s/unknown", base);
	CHECK_EQ(restore(crafted, dst, false), 0);
	stat_of("unknown", "f", &a);
	CHECK_EQ(a.st_uid, 4321);
	CHECK_EQ(a.st_gid, 8765);
	/* an owner change alone is fixed in place, not rewritten */
	CHECK_EQ(rewrite(snap, crafted, false, 1111, 2222, NULL, NULL), 0);
	CHECK_EQ(restore(crafted, dst, false), 0);
	stat_of("unknown", "f", &b);
	CHECK_EQ(b.st_uid, 1111);
	CHECK_EQ(b.st_gid, 2222);
	CHECK_EQ(b.st_ino, a.st_ino);

	/* a snapshot without keys 11-15 (the version before them):
	 * contents restore, owners stay as they are, links are files */
	snprintf(old, sizeof(old), "%s/old.msgpack", base);
	CHECK_EQ(rewrite(snap, old, true, 0, 0, NULL, NULL), 0);
	snprintf(dst, sizeof(dst), "%s/unknown", base);
	CHECK_EQ(restore(old, dst, false), 0);
	stat_of("unknown", "f", &a);
	CHECK_EQ(a.st_uid, 1111);
	snprintf(dst, sizeof(dst), "%s/old", base);
	CHECK_EQ(restore(old, dst, false), 0);
	stat_of("old", "h1", &a);
	stat_of("old", "d/h2", &b);
	CHECK(a.st_ino != b.st_ino);
	CHECK_EQ(a.st_nlink, 1);
	snprintf(cmd, sizeof(cmd), "cmp %s/old/h1 %s/old/d/h2", base, base);
	CHECK_EQ(sh(cmd), 0);
	free(snap);
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/test_owners.XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_owner_cache);
	RUN_TEST(test_hardlinks);
	RUN_TEST(test_link_map);
	RUN_TEST(test_snapshot_keys);
	RUN_TEST(test_restore_owners);
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
		sh(cmd);
	}
	return test_finish();
}
