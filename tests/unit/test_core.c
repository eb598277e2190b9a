/* test_core: errbuf, bqueue, objid, entry ordering/validation and the
 * civil-date arithmetic. */
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "bqueue.h"
#include "civil.h"
#include "entry.h"
#include "errbuf.h"
#include "objid.h"
#include "test.h"

static void test_errbuf_first_wins(void)
{
	struct errbuf eb = ERRBUF_INIT;

	CHECK_EQ(errbuf_set(&eb, -ENOENT, "cannot open '%s'", "a"), -ENOENT);
	CHECK_EQ(errbuf_set(&eb, -EIO, "second"), -EIO);
	CHECK_EQ(eb.code, -ENOENT);
	CHECK_STREQ(eb.msg, "cannot open 'a'");
	errbuf_wrap(&eb, -EIO, "reading '%s'", "s");
	CHECK_STREQ(eb.msg, "reading 's': cannot open 'a'");
}

static void test_quote_name(void)
{
	char out[64];

	errbuf_quote_name(out, sizeof(out), "a\nb\xff\xc3\xa9", 6);
	CHECK_STREQ(out, "a\\x0ab\\xff\xc3\xa9");
	/* what is not UTF-8 by RFC 3629 is escaped byte by byte, as
	 * --json's strings escape it: an overlong '/', a surrogate, a
	 * value past U+10FFFF; a 4-byte character stays */
	errbuf_quote_name(out, sizeof(out), "\xe0\x80\xaf", 3);
	CHECK_STREQ(out, "\\xe0\\x80\\xaf");
	errbuf_quote_name(out, sizeof(out), "\xed\xa0\x80", 3);
	CHECK_STREQ(out, "\\xed\\xa0\\x80");
	errbuf_quote_name(out, sizeof(out), "\xf4\x90\x80\x80", 4);
	CHECK_STREQ(out, "\\xf4\\x90\\x80\\x80");
	errbuf_quote_name(out, sizeof(out), "\xf0\x9f\x98\x80", 4);
	CHECK_STREQ(out, "\xf0\x9f\x98\x80");
}

static void test_quote_long_name(void)
{
	char name[2000], out[512];
	size_t n;

	memset(name, 'p', sizeof(name));
	memcpy(name + sizeof(name) - 12, "/target.file", 12);
	errbuf_quote_name(out, sizeof(out), name, sizeof(name));
	n = strlen(out);
	/* head and tail survive around " ... ", within the limit */
	CHECK(n <= ERRBUF_NAME_SHOWN);
	CHECK(strstr(out, " ... ") != NULL);
	CHECK(n > 12 && !strcmp(out + n - 12, "/target.file"));
	CHECK(out[0] == 'p');
	/* escapes are never cut in half */
	memset(name, '\n', sizeof(name));
	errbuf_quote_name(out, sizeof(out), name, sizeof(name));
	n = strlen(out);
	CHECK(n >= 4 && !strcmp(out + n - 4, "\\x0a"));
	CHECK(strstr(out, "\\x0a ... \\x0a") != NULL);
}

static void test_objid(void)
{
	struct objid id;
	char hex[33], b64[25];

	CHECK_EQ(objid_from_hex("d41d8cd98f00b204e9800998ecf8427e", 32, &id), 0);
	objid_to_hex(&id, hex);
	CHECK_STREQ(hex, "d41d8cd98f00b204e9800998ecf8427e");
	objid_to_base64(&id, b64);
	CHECK_STREQ(b64, "1B2M2Y8AsgTpgAmY7PhCfg==");
	CHECK_ERR(objid_from_hex("zz1d8cd98f00b204e9800998ecf8427e", 32, &id),
		  EINVAL);
	CHECK_ERR(objid_from_hex("d41d", 4, &id), EINVAL);
	{
		struct objid set[3] = { { { 1 } }, { { 2 } }, { { 3 } } };
		struct objid other = { { 4 } };

		CHECK_EQ(objid_find(set, 3, &set[2]), 2);
		CHECK_EQ(objid_find(set, 3, &set[0]), 0);
		CHECK(objid_find(set, 3, &other) == SIZE_MAX);
		CHECK(objid_find(set, 0, &set[0]) == SIZE_MAX);
	}
}

static int key(const char *a, int ad, const char *b, int bd)
{
	return entry_key_cmp(a, strlen(a), ad, b, strlen(b), bd);
}

static void test_entry_order(void)
{
	/* a walk that visits "a.txt" before the contents of dir "a" */
	CHECK(key("a.txt", 0, "a", 1) < 0);
	CHECK(key("a", 1, "a/b", 0) < 0);
	CHECK(key("a", 0, "a.txt", 0) < 0);
	CHECK(key("a", 0, "a", 1) < 0);
	CHECK(key("a/b", 0, "a0", 0) < 0);
	CHECK(key("a", 1, "a", 1) == 0);
	CHECK(key("b", 0, "a/z", 0) > 0);
	CHECK(key("\xff", 0, "a", 0) > 0);
}

static void test_name_check(void)
{
	const char *why = NULL;
	char long_comp[300];

	CHECK_EQ(entry_name_check("a/b c/d", 7, &why), 0);
	CHECK_ERR(entry_name_check("/etc/passwd", 11, &why), EINVAL);
	CHECK_ERR(entry_name_check("a/../../x", 9, &why), EINVAL);
	CHECK_ERR(entry_name_check("..", 2, &why), EINVAL);
	CHECK_ERR(entry_name_check("a//b", 4, &why), EINVAL);
	CHECK_ERR(entry_name_check("a/", 2, &why), EINVAL);
	CHECK_ERR(entry_name_check("./a", 3, &why), EINVAL);
	CHECK_ERR(entry_name_check("a\0b", 3, &why), EINVAL);
	CHECK_ERR(entry_name_check("", 0, &why), EINVAL);
	memset(long_comp, 'x', sizeof(long_comp));
	CHECK_ERR(entry_name_check(long_comp, 256, &why), EINVAL);
	CHECK_EQ(entry_name_check(long_comp, 255, &why), 0);
	CHECK_EQ(entry_name_check("..a/.b", 6, &why), 0);
}

struct producer_arg {
	struct bqueue *q;
	int n;
};

static void *producer(void *p)
{
	struct producer_arg *a = p;
	int i;

	for (i = 1; i <= a->n; i++)
		bqueue_push(a->q, (void *)(intptr_t)i);
	bqueue_close(a->q);
	return NULL;
}

static void test_bqueue(void)
{
	struct producer_arg a;
	pthread_t t;
	void *item;
	long sum = 0;
	int ret, n = 0;

	CHECK_EQ(bqueue_new(4, &a.q), 0);
	a.n = 1000;
	pthread_create(&t, NULL, producer, &a);
	while ((ret = bqueue_pop(a.q, &item)) == 1) {
		sum += (long)(intptr_t)item;
		n++;
	}
	pthread_join(t, NULL);
	CHECK_EQ(ret, 0);
	CHECK_EQ(n, 1000);
	CHECK_EQ(sum, 1000L * 1001 / 2);
	CHECK_ERR(bqueue_push(a.q, &a), ECANCELED);
	bqueue_free(a.q);

	CHECK_EQ(bqueue_new(2, &a.q), 0);
	CHECK_EQ(bqueue_push(a.q, &a), 0);
	bqueue_abort(a.q);
	CHECK_ERR(bqueue_pop(a.q, &item), ECANCELED);
	CHECK_EQ(bqueue_drain(a.q, &item), 1);
	CHECK(item == &a);
	CHECK_EQ(bqueue_drain(a.q, &item), 0);
	bqueue_free(a.q);
}

/* A producer waiting for room is woken by bqueue_drain as by a pop: the
 * network thread takes its requests with drain (it must not sleep in a
 * pop), and its submitters once waited forever on a full queue. */
static void test_bqueue_drain_wakes_producer(void)
{
	struct producer_arg a;
	struct timespec start, now;
	pthread_t t;
	void *item;
	long sum = 0;
	int n = 0;

	CHECK_EQ(bqueue_new(2, &a.q), 0);
	a.n = 200;
	pthread_create(&t, NULL, producer, &a);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (n < a.n) {
		if (bqueue_drain(a.q, &item) == 1) {
			sum += (long)(intptr_t)item;
			n++;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* a bound for a hang, not a measure: this takes microseconds */
		if (now.tv_sec - start.tv_sec > 60)
			break;
		sched_yield();
	}
	CHECK_EQ(n, 200);
	if (n == a.n)
		pthread_join(t, NULL);
	CHECK_EQ(sum, 200L * 201 / 2);
	if (n == a.n)
		bqueue_free(a.q);
}

static uint64_t weight_of(const void *item)
{
	return (uint64_t)(uintptr_t)item;
}

/* A weighted batch stops before the item that would pass the budget, but
 * always takes one: a large file travels alone, small ones together. */
static void test_bqueue_weighted(void)
{
	static const uintptr_t w[] = { 3, 4, 100, 1, 1, 1, 9 };
	void *out[8];
	struct bqueue *q;
	size_t i;

	CHECK_EQ(bqueue_new(16, &q), 0);
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		CHECK_EQ(bqueue_push(q, (void *)w[i]), 0);
	bqueue_close(q);
	CHECK_EQ(bqueue_pop_batch_weighted(q, out, 8, weight_of, 8), 2);
	CHECK_EQ((uintptr_t)out[1], 4);
	CHECK_EQ(bqueue_pop_batch_weighted(q, out, 8, weight_of, 8), 1);
	CHECK_EQ((uintptr_t)out[0], 100);
	CHECK_EQ(bqueue_pop_batch_weighted(q, out, 2, weight_of, 8), 2);
	CHECK_EQ(bqueue_pop_batch_weighted(q, out, 8, weight_of, 8), 1);
	CHECK_EQ((uintptr_t)out[0], 1);
	CHECK_EQ(bqueue_pop_batch_weighted(q, out, 8, weight_of, 8), 1);
	CHECK_EQ((uintptr_t)out[0], 9);
	CHECK_EQ(bqueue_pop_batch_weighted(q, out, 8, weight_of, 8), 0);
	bqueue_free(q);
}

/* The non-blocking weighted pop sizes its batch as the blocking one,
 * says "empty" apart from "ended", and never blocks. */
static void test_bqueue_try_weighted(void)
{
	static const uintptr_t w[] = { 3, 4, 100, 1 };
	bool ended = true;
	void *out[8];
	struct bqueue *q;
	size_t i;

	CHECK_EQ(bqueue_new(8, &q), 0);
	CHECK_EQ(bqueue_try_pop_batch_weighted(q, out, 8, weight_of, 8,
					       &ended), 0);
	CHECK(!ended);
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		CHECK_EQ(bqueue_push(q, (void *)w[i]), 0);
	CHECK_EQ(bqueue_try_pop_batch_weighted(q, out, 8, weight_of, 8,
					       &ended), 2);
	CHECK_EQ((uintptr_t)out[0], 3);
	CHECK_EQ(bqueue_try_pop_batch_weighted(q, out, 8, weight_of, 8,
					       &ended), 1);
	CHECK_EQ((uintptr_t)out[0], 100);
	bqueue_close(q);
	CHECK_EQ(bqueue_try_pop_batch_weighted(q, out, 8, weight_of, 8,
					       &ended), 1);
	CHECK(!ended);
	CHECK_EQ(bqueue_try_pop_batch_weighted(q, out, 8, weight_of, 8,
					       &ended), 0);
	CHECK(ended);
	bqueue_abort(q);
	CHECK_EQ(bqueue_try_pop_batch_weighted(q, out, 8, weight_of, 8,
					       &ended), -ECANCELED);
	bqueue_free(q);
}

struct sleeper {
	struct bqueue *q;
	void *got[8];
	int n;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;

	s->n = bqueue_pop_batch(s->q, s->got, 1);
	return NULL;
}

/* A try-pop (a busy worker topping up its lanes) leaves one item to
 * each consumer blocked in a pop: with one sleeper and two items pushed,
 * it takes exactly one, whether the sleeper has run yet or not, and the
 * sleeper gets the other. Without a sleeper it takes what there is. */
static void test_bqueue_try_leaves_sleepers(void)
{
	struct sleeper s = { 0 };
	bool ended;
	void *out[8];
	pthread_t t;
	int i, n;

	CHECK_EQ(bqueue_new(8, &s.q), 0);
	CHECK_EQ(pthread_create(&t, NULL, sleeper_main, &s), 0);
	for (i = 0; i < 10000 && bqueue_waiting(s.q) != 1; i++)
		usleep(1000);
	CHECK_EQ(bqueue_waiting(s.q), 1);
	/* nothing to spare: the push is the sleeper's */
	CHECK_EQ(bqueue_push(s.q, (void *)(uintptr_t)1), 0);
	CHECK_EQ(bqueue_try_pop_batch(s.q, out, 8, &ended), 0);
	CHECK(!ended);
	pthread_join(t, NULL);
	CHECK_EQ(s.n, 1);
	CHECK_EQ((uintptr_t)s.got[0], 1);

	CHECK_EQ(pthread_create(&t, NULL, sleeper_main, &s), 0);
	for (i = 0; i < 10000 && bqueue_waiting(s.q) != 1; i++)
		usleep(1000);
	CHECK_EQ(bqueue_waiting(s.q), 1);
	CHECK_EQ(bqueue_push(s.q, (void *)(uintptr_t)2), 0);
	CHECK_EQ(bqueue_push(s.q, (void *)(uintptr_t)3), 0);
	n = bqueue_try_pop_batch(s.q, out, 8, &ended);
	CHECK_EQ(n, 1);
	pthread_join(t, NULL);
	CHECK_EQ(s.n, 1);
	CHECK_EQ((uintptr_t)out[0] + (uintptr_t)s.got[0], 5);
	CHECK_EQ(bqueue_waiting(s.q), 0);

	/* no sleeper: everything is spare */
	CHECK_EQ(bqueue_push(s.q, (void *)(uintptr_t)4), 0);
	CHECK_EQ(bqueue_push(s.q, (void *)(uintptr_t)5), 0);
	CHECK_EQ(bqueue_try_pop_batch(s.q, out, 8, &ended), 2);
	bqueue_close(s.q);
	CHECK_EQ(bqueue_try_pop_batch(s.q, out, 8, &ended), 0);
	CHECK(ended);
	bqueue_free(s.q);
}

/* Days from dates at the edges (the int64 ns range is 1677-09-21 ..
 * 2262-04-11), a day past a month's end, and every 97th day of that
 * range there and back. */
static void test_civil(void)
{
	int64_t days, y;
	unsigned m, d;

	CHECK_EQ(civil_to_days(1970, 1, 1), 0);
	CHECK_EQ(civil_to_days(1969, 12, 31), -1);
	CHECK_EQ(civil_to_days(2000, 3, 1), 11017);
	CHECK_EQ(civil_to_days(2024, 2, 29), 19782);
	CHECK_EQ(civil_to_days(2023, 2, 29), civil_to_days(2023, 3, 1));
	CHECK_EQ(civil_to_days(1677, 9, 21), -106752);
	CHECK_EQ(civil_to_days(2262, 4, 11), 106751);
	for (days = -106752; days <= 106751; days += 97) {
		civil_from_days(days, &y, &m, &d);
		CHECK(m >= 1 && m <= 12 && d >= 1 && d <= 31);
		CHECK_EQ(civil_to_days(y, m, d), days);
	}
	civil_from_days(-1, &y, &m, &d);
	CHECK(y == 1969 && m == 12 && d == 31);
	civil_from_days(19782, &y, &m, &d);
	CHECK(y == 2024 && m == 2 && d == 29);
}

int main(void)
{
	RUN_TEST(test_errbuf_first_wins);
	RUN_TEST(test_quote_name);
	RUN_TEST(test_quote_long_name);
	RUN_TEST(test_objid);
	RUN_TEST(test_entry_order);
	RUN_TEST(test_name_check);
	RUN_TEST(test_bqueue);
	RUN_TEST(test_bqueue_drain_wakes_producer);
	RUN_TEST(test_bqueue_weighted);
	RUN_TEST(test_bqueue_try_weighted);
	RUN_TEST(test_bqueue_try_leaves_sleepers);
	RUN_TEST(test_civil);
	return test_finish();
}
