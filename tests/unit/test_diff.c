/* test_diff: streaming merge of two sorted entry streams. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "diff.h"
#include "entry.h"
#include "errbuf.h"
#include "test.h"

/* an entry stream over a static array of descriptions */
struct spec {
	const char *name;
	uint8_t type;
	unsigned md5_byte;   /* 0: no md5 */
	uint64_t size;
	const char *target;
};

struct arr_stream {
	const struct spec *v;
	size_t n, i;
	int fail_at;         /* return -EIO at this index, -1 never */
};

static int arr_next(void *ctx, struct entry *out, struct errbuf *eb)
{
	struct arr_stream *s = ctx;
	const struct spec *sp;

	if (s->fail_at >= 0 && s->i == (size_t)s->fail_at)
		return errbuf_set(eb, -EIO, "synthetic read error");
	if (s->i >= s->n)
		return 0;
	sp = &s->v[s->i++];
	if (entry_set_name(out, sp->name, strlen(sp->name)))
		return -ENOMEM;
	out->type = sp->type;
	out->size = sp->size;
	if (sp->md5_byte) {
		out->has_md5 = true;
		memset(out->md5.b, (int)sp->md5_byte, sizeof(out->md5.b));
	}
	if (sp->target &&
	    entry_set_target(out, sp->target, strlen(sp->target)))
		return -ENOMEM;
	return 1;
}

struct rec {
	char line[64][80];
	size_t n;
	int stop_after;      /* callback returns -ECANCELED after this many */
};

static int rec_cb(void *ctx, enum diff_state st, const struct entry *l,
		  const struct entry *r, struct errbuf *eb)
{
	struct rec *rc = ctx;
	const struct entry *e = l ? l : r;

	if (st == DIFF_ONLY_LEFT && r)
		return errbuf_set(eb, -EPROTO, "only_left with right entry");
	if (st == DIFF_ONLY_RIGHT && l)
		return errbuf_set(eb, -EPROTO, "only_right with left entry");
	if ((st == DIFF_EQUAL || st == DIFF_DIFFERENT) && (!l || !r))
		return errbuf_set(eb, -EPROTO, "both sides expected");
	if (rc->n < 64)
		snprintf(rc->line[rc->n++], sizeof(rc->line[0]), "%s %s",
			 diff_state_name(st), e->name);
	if (rc->stop_after && rc->n >= (size_t)rc->stop_after)
		return errbuf_set(eb, -ECANCELED, "stopped by callback");
	return 0;
}

#define ARR(v) { (v), sizeof(v) / sizeof((v)[0]), 0, -1 }

static int run(struct arr_stream *a, struct arr_stream *b, struct rec *r,
	       struct errbuf *eb)
{
	struct entry_stream l = { arr_next, a };
	struct entry_stream rr = { arr_next, b };

	return diff_run(&l, &rr, rec_cb, r, eb);
}

static void test_merge(void)
{
	static const struct spec left[] = {
		{ "a", ENTRY_FILE, 1, 10, NULL },
		{ "b", ENTRY_FILE, 2, 10, NULL },
		{ "d.txt", ENTRY_FILE, 3, 1, NULL },
		{ "d", ENTRY_DIR, 0, 0, NULL },     /* sorts as "d/" */
		{ "l", ENTRY_SYMLINK, 0, 0, "t1" },
		{ "z", ENTRY_FILE, 4, 4, NULL },
	};
	static const struct spec right[] = {
		{ "a", ENTRY_FILE, 1, 10, NULL },   /* equal */
		{ "b", ENTRY_FILE, 9, 10, NULL },   /* different md5 */
		{ "c", ENTRY_FILE, 5, 1, NULL },    /* only right */
		{ "d", ENTRY_FILE, 3, 1, NULL },    /* file "d" < dir "d/" */
		{ "d.txt", ENTRY_FILE, 3, 2, NULL },/* different size */
		{ "l", ENTRY_SYMLINK, 0, 0, "t2" }, /* different target */
	};
	struct arr_stream a = ARR(left), b = ARR(right);
	struct errbuf eb = ERRBUF_INIT;
	struct rec r = { .n = 0 };

	CHECK_EQ(run(&a, &b, &r, &eb), 0);
	CHECK_EQ(r.n, 8);
	if (r.n != 8)
		return;
	/* "d" (file) sorts before "d.txt" which sorts before dir "d/"
	 * ('.' 0x2e < '/' 0x2f): the order of entry_cmp */
	CHECK_STREQ(r.line[0], "equal a");
	CHECK_STREQ(r.line[1], "different b");
	CHECK_STREQ(r.line[2], "only_right c");
	CHECK_STREQ(r.line[3], "only_right d");
	CHECK_STREQ(r.line[4], "different d.txt");
	CHECK_STREQ(r.line[5], "only_left d");
	CHECK_STREQ(r.line[6], "different l");
	CHECK_STREQ(r.line[7], "only_left z");
}

static void test_type_change_is_different(void)
{
	static const struct spec left[] = { { "x", ENTRY_FILE, 1, 0, NULL } };
	static const struct spec right[] = { { "x", ENTRY_SYMLINK, 0, 0, "y" } };
	struct arr_stream a = ARR(left), b = ARR(right);
	struct errbuf eb = ERRBUF_INIT;
	struct rec r = { .n = 0 };

	CHECK_EQ(run(&a, &b, &r, &eb), 0);
	CHECK_EQ(r.n, 1);
	CHECK_STREQ(r.line[0], "different x");
}

static void test_empty_sides(void)
{
	static const struct spec one[] = { { "x", ENTRY_FILE, 1, 0, NULL } };
	struct arr_stream a = ARR(one), e = { one, 0, 0, -1 };
	struct errbuf eb = ERRBUF_INIT;
	struct rec r = { .n = 0 };

	CHECK_EQ(run(&a, &e, &r, &eb), 0);
	CHECK_EQ(r.n, 1);
	CHECK_STREQ(r.line[0], "only_left x");
	a.i = 0;
	r.n = 0;
	CHECK_EQ(run(&e, &a, &r, &eb), 0);
	CHECK_EQ(r.n, 1);
	CHECK_STREQ(r.line[0], "only_right x");
	e.i = 0;
	r.n = 0;
	CHECK_EQ(run(&e, &e, &r, &eb), 0);
	CHECK_EQ(r.n, 0);
}

static void test_out_of_order(void)
{
	static const struct spec bad[] = {
		{ "b", ENTRY_FILE, 1, 0, NULL },
		{ "a", ENTRY_FILE, 1, 0, NULL },
	};
	static const struct spec dup[] = {
		{ "a", ENTRY_FILE, 1, 0, NULL },
		{ "a", ENTRY_FILE, 1, 0, NULL },
	};
	static const struct spec good[] = { { "a", ENTRY_FILE, 1, 0, NULL } };
	struct arr_stream a = ARR(good), b = ARR(bad);
	struct errbuf eb = ERRBUF_INIT;
	struct rec r = { .n = 0 };

	CHECK_ERR(run(&a, &b, &r, &eb), EBADMSG);
	CHECK_EQ(eb.code, -EBADMSG);
	CHECK(strstr(eb.msg, "right stream out of order") != NULL);
	CHECK(strstr(eb.msg, "'a' after 'b'") != NULL);

	a = (struct arr_stream)ARR(dup);
	b = (struct arr_stream)ARR(good);
	errbuf_clear(&eb);
	r.n = 0;
	CHECK_ERR(run(&a, &b, &r, &eb), EBADMSG);
	CHECK(strstr(eb.msg, "left stream out of order") != NULL);
}

static void test_stream_error_and_cb_stop(void)
{
	static const struct spec v[] = {
		{ "a", ENTRY_FILE, 1, 0, NULL },
		{ "b", ENTRY_FILE, 1, 0, NULL },
		{ "c", ENTRY_FILE, 1, 0, NULL },
	};
	struct arr_stream a = ARR(v), b = ARR(v);
	struct errbuf eb = ERRBUF_INIT;
	struct rec r = { .n = 0 };

	b.fail_at = 1;
	CHECK_ERR(run(&a, &b, &r, &eb), EIO);
	CHECK_STREQ(eb.msg, "synthetic read error");

	a = (struct arr_stream)ARR(v);
	b = (struct arr_stream)ARR(v);
	errbuf_clear(&eb);
	r.n = 0;
	r.stop_after = 2;
	CHECK_ERR(run(&a, &b, &r, &eb), ECANCELED);
	CHECK_EQ(r.n, 2);
}

static void test_state_names(void)
{
	enum diff_state s;

	CHECK_STREQ(diff_state_name(DIFF_ONLY_LEFT), "only_left");
	CHECK_STREQ(diff_state_name(DIFF_ONLY_RIGHT), "only_right");
	CHECK_STREQ(diff_state_name(DIFF_DIFFERENT), "different");
	CHECK_STREQ(diff_state_name(DIFF_EQUAL), "equal");
	CHECK_STREQ(diff_state_name((enum diff_state)99), "unknown");
	CHECK_EQ(diff_state_parse("different", &s), 0);
	CHECK_EQ(s, DIFF_DIFFERENT);
	CHECK_EQ(diff_state_parse("ONLY_RIGHT", &s), 0);
	CHECK_EQ(s, DIFF_ONLY_RIGHT);
	CHECK_ERR(diff_state_parse("same", &s), EINVAL);
	CHECK_ERR(diff_state_parse("", &s), EINVAL);
}

int main(void)
{
	RUN_TEST(test_merge);
	RUN_TEST(test_type_change_is_different);
	RUN_TEST(test_empty_sides);
	RUN_TEST(test_out_of_order);
	RUN_TEST(test_stream_error_and_cb_stop);
	RUN_TEST(test_state_names);
	return test_finish();
}
