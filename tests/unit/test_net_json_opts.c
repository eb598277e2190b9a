/* test_net_json_opts: the storage-options JSON parser. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_opts.h"
#include "test.h"

static void test_basic(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct json_opts *o = NULL;

	CHECK_EQ(json_opts_parse(" { \"endpoint_url\" : \"http://127.0.0.1:9000\","
				 "\"key\":\"AK\", \"n\": 12, \"b\": true,"
				 "\"gone\": null, \"key\": \"AK2\" } ", &o, &eb),
		 0);
	CHECK_STREQ(json_opts_get(o, "endpoint_url"), "http://127.0.0.1:9000");
	CHECK_STREQ(json_opts_get(o, "key"), "AK2");   /* last wins */
	CHECK_STREQ(json_opts_get(o, "n"), "12");
	CHECK_STREQ(json_opts_get(o, "b"), "true");
	CHECK(json_opts_get(o, "gone") == NULL);
	CHECK(json_opts_get(o, "missing") == NULL);
	CHECK_EQ(json_opts_count(o), 4);
	CHECK_STREQ(json_opts_key(o, 0), "endpoint_url");
	json_opts_free(o);

	CHECK_EQ(json_opts_parse("{}", &o, &eb), 0);
	CHECK_EQ(json_opts_count(o), 0);
	json_opts_free(o);
}

static void test_escapes(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct json_opts *o = NULL;

	CHECK_EQ(json_opts_parse("{\"s\": \"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\"}",
				 &o, &eb), 0);
	CHECK_STREQ(json_opts_get(o, "s"), "a\"b\\c/d\n\t\xc3\xa9\xf0\x9f\x98\x80");
	json_opts_free(o);
	/* one to four bytes of UTF-8, hex digits of either case */
	CHECK_EQ(json_opts_parse("{\"s\": \"\\u0041\\u00E9\\u20Ac\\uD83D\\uDE00\"}",
				 &o, &eb), 0);
	CHECK_STREQ(json_opts_get(o, "s"), "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	json_opts_free(o);
	/* a bad digit: the message names the byte after it */
	o = NULL;
	CHECK_EQ(json_opts_parse("{\"a\":\"\\u0g12\"}", &o, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "at byte 10: bad \\u escape") != NULL);
}

/* s3fs's nested options, flattened into dotted keys */
static void test_nested(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct json_opts *o = NULL;

	CHECK_EQ(json_opts_parse("{\"key\": \"k\", \"client_kwargs\": "
				 "{\"endpoint_url\": \"http://h:1\", "
				 "\"region_name\": \"eu-west-1\", \"e\": {}},"
				 "\"config_kwargs\": {\"s3\": "
				 "{\"addressing_style\": \"path\"}, "
				 "\"n\": null}, \"anon\": false}", &o, &eb), 0);
	CHECK_STREQ(json_opts_get(o, "key"), "k");
	CHECK_STREQ(json_opts_get(o, "client_kwargs.endpoint_url"),
		    "http://h:1");
	CHECK_STREQ(json_opts_get(o, "client_kwargs.region_name"),
		    "eu-west-1");
	CHECK_STREQ(json_opts_get(o, "config_kwargs.s3.addressing_style"),
		    "path");
	CHECK_STREQ(json_opts_get(o, "anon"), "false");
	CHECK(json_opts_get(o, "client_kwargs") == NULL);
	CHECK(json_opts_get(o, "config_kwargs.n") == NULL);
	CHECK_EQ(json_opts_count(o), 5);
	json_opts_free(o);
	/* JSON_OPTS_MAX_DEPTH levels are fine */
	CHECK_EQ(json_opts_parse("{\"a\":{\"b\":{\"c\":{\"d\":1}}}}", &o,
				 &eb), 0);
	CHECK_STREQ(json_opts_get(o, "a.b.c.d"), "1");
	json_opts_free(o);
}

static void test_errors(void)
{
	static const char *const bad[] = {
		"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":\"x\",}",
		"{\"a\":\"x\"} x", "{\"a\":{\"b\":1}", "{\"a\":[1]}",
		"{\"a\":{\"b\":[]}}", "{\"a\":{\"b\":}}",
		"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}",
		"{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
		"{\"a\":\"\\u12\"}", "{\"a\":\"x", "{a:1}", "{\"a\":tru}",
		"{\"a\":\"\\u0000\"}", "{\"a\":\"tab\there\"}",
	};
	struct errbuf eb;
	struct json_opts *o;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errbuf_clear(&eb);
		o = (struct json_opts *)1;
		CHECK_EQ(json_opts_parse(bad[i], &o, &eb), -EINVAL);
		CHECK(o == NULL);
		CHECK(strstr(eb.msg, "storage options") != NULL);
	}
	/* the value (maybe a secret) never appears in the message */
	errbuf_clear(&eb);
	CHECK_EQ(json_opts_parse("{\"secret\": \"s3cr3t\" x}", &o, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "s3cr3t") == NULL);
}

static void test_bounds(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct json_opts *o = NULL;
	char *big;
	size_t i, n = 0;

	big = malloc(JSON_OPTS_MAX_LEN + 16);
	CHECK(big != NULL);
	if (!big)
		return;
	big[n++] = '{';
	for (i = 0; i <= JSON_OPTS_MAX_KEYS; i++)
		n += (size_t)snprintf(big + n, 32, "%s\"k%zu\":1", i ? "," : "", i);
	big[n++] = '}';
	big[n] = '\0';
	CHECK_EQ(json_opts_parse(big, &o, &eb), -E2BIG);
	memset(big, ' ', JSON_OPTS_MAX_LEN + 8);
	big[0] = '{';
	big[JSON_OPTS_MAX_LEN + 8] = '}';
	big[JSON_OPTS_MAX_LEN + 9] = '\0';
	errbuf_clear(&eb);
	CHECK_EQ(json_opts_parse(big, &o, &eb), -E2BIG);
	free(big);
}

int main(void)
{
	RUN_TEST(test_basic);
	RUN_TEST(test_escapes);
	RUN_TEST(test_nested);
	RUN_TEST(test_errors);
	RUN_TEST(test_bounds);
	return test_finish();
}
