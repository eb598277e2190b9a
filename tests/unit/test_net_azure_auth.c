/* test_net_azure_auth: the Shared Key string-to-sign and signature against
 * the strings Azurite accepted (shared reference azure_sharedkey_example.py),
 * connection strings, and the encoders (base64, hex, URI) they rely on. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "azure_auth.h"
#include "digest.h"
#include "encode.h"
#include "test.h"
#include "uri.h"

static const char key_b64[] =
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
	"K1SZFPTOtr/KBHBeksoGMGw==";

static void test_put_blob(void)
{
	static const char want[] =
		"PUT\n\n\n11\nWoVso0wC9Bo/r9jeVrRoMw==\napplication/octet-stream"
		"\n\n\n\n\n\n\n"
		"x-ms-blob-type:BlockBlob\nx-ms-date:Thu, 26 Nov 2026 10:36:25 "
		"GMT\nx-ms-version:2025-11-05\n"
		"/devstoreaccount1/devstoreaccount1/example/ab/abcdef";
	/* given out of order and in mixed case on purpose */
	struct azure_header h[] = {
		{ "x-ms-version", "2025-11-05" },
		{ "Content-MD5", "WoVso0wC9Bo/r9jeVrRoMw==" },
		{ "X-MS-Blob-Type", "BlockBlob" },
		{ "Content-Type", "application/octet-stream" },
		{ "x-ms-date", "Thu, 26 Nov 2026 10:36:25 GMT" },
		{ "Content-Length", "11" },
	};
	uint8_t key[64];
	char sts[1024], auth[128];
	int n;

	n = azure_string_to_sign("PUT", h, 6, "devstoreaccount1",
				 "/devstoreaccount1/example/ab/abcdef", NULL, sts,
				 sizeof(sts));
	CHECK_EQ(n, (int)strlen(want));
	CHECK_STREQ(sts, want);
	n = decode_base64(key_b64, strlen(key_b64), key, sizeof(key));
	CHECK_EQ(n, 64);
	CHECK_EQ(azure_shared_key("devstoreaccount1", key, 64, sts, auth,
				  sizeof(auth)), 0);
	/* computed with Python's hmac over the same string */
	CHECK_STREQ(auth, "SharedKey devstoreaccount1:"
		    "MCMMspe4D6K6KfD8VIoypZ24jhA55Uxhj43JdzgmNU8=");
	CHECK_EQ(azure_string_to_sign("PUT", h, 6, "devstoreaccount1",
				      "/x", NULL, sts, 20), -ENAMETOOLONG);
}

static void test_list_blobs(void)
{
	static const char want[] =
		"GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Thu, 26 Nov 2026 10:36:25 "
		"GMT\nx-ms-version:2025-11-05\n"
		"/devstoreaccount1/devstoreaccount1/heap\ncomp:list\n"
		"maxresults:2\nprefix:ab/\nrestype:container";
	struct azure_header h[] = {
		{ "x-ms-date", "Thu, 26 Nov 2026 10:36:25 GMT" },
		{ "x-ms-version", "2025-11-05" },
		{ "Content-Length", "0" },   /* signed as empty */
	};
	struct uri_query q = { 0 };
	uint8_t key[64];
	char sts[1024], auth[128], url[256];
	size_t len = 0;

	uri_query_add(&q, "restype", "container");
	uri_query_add(&q, "prefix", "ab/");
	uri_query_add(&q, "maxresults", "2");
	uri_query_add(&q, "comp", "list");
	CHECK(azure_string_to_sign("GET", h, 3, "devstoreaccount1",
				   "/devstoreaccount1/heap", &q, sts,
				   sizeof(sts)) > 0);
	CHECK_STREQ(sts, want);
	decode_base64(key_b64, strlen(key_b64), key, sizeof(key));
	CHECK_EQ(azure_shared_key("devstoreaccount1", key, 64, sts, auth,
				  sizeof(auth)), 0);
	CHECK_STREQ(auth, "SharedKey devstoreaccount1:"
		    "optFg7KdV4jJCtmpJ/0qkCpdnaIpdvMrwwhBnAqxbsM=");
	/* the URL carries the same query canonical and encoded */
	CHECK_EQ(uri_query_append(&q, url, sizeof(url), &len), 0);
	CHECK_STREQ(url, "?comp=list&maxresults=2&prefix=ab%2F&restype=container");
}

static void test_conn(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct azure_conn c;

	CHECK_EQ(azure_conn_parse("DefaultEndpointsProtocol=http;AccountName=acc;"
				  "AccountKey=a2V5==;BlobEndpoint=http://127.0.0.1:1/acc;",
				  &c, &eb), 0);
	CHECK_STREQ(c.account, "acc");
	CHECK_STREQ(c.key, "a2V5==");
	CHECK_STREQ(c.blob_endpoint, "http://127.0.0.1:1/acc");
	CHECK_STREQ(c.protocol, "http");
	CHECK(!c.dev);
	CHECK_EQ(azure_conn_parse("UseDevelopmentStorage=true", &c, &eb), 0);
	CHECK(c.dev);
	CHECK_EQ(azure_conn_parse("AccountName=a;SharedAccessSignature=sv=1&sig=x%3D",
				  &c, &eb), 0);
	CHECK_STREQ(c.sas, "sv=1&sig=x%3D");
	CHECK_EQ(azure_conn_parse("AccountName=a;garbage", &c, &eb), -EINVAL);
}

static void test_encoders(void)
{
	uint8_t out[64], md5[16];
	char s[128];
	size_t len = 0;

	encode_base64((const uint8_t *)"hello heap\n", 11, s);
	CHECK_STREQ(s, "aGVsbG8gaGVhcAo=");
	encode_base64((const uint8_t *)"ab", 2, s);
	CHECK_STREQ(s, "YWI=");
	encode_base64((const uint8_t *)"a", 1, s);
	CHECK_STREQ(s, "YQ==");
	CHECK_EQ(decode_base64("YWI=", 4, out, sizeof(out)), 2);
	CHECK(!memcmp(out, "ab", 2));
	CHECK_EQ(decode_base64("YQ==", 4, out, sizeof(out)), 1);
	CHECK_EQ(decode_base64("YQ=", 3, out, sizeof(out)), -EINVAL);
	CHECK_EQ(decode_base64("Y=Q=", 4, out, sizeof(out)), -EINVAL);
	CHECK_EQ(decode_base64("YW*=", 4, out, sizeof(out)), -EINVAL);
	CHECK_EQ(decode_base64("YWJj", 4, out, 2), -EINVAL);
	digest_md5("hello heap\n", 11, md5);
	encode_base64(md5, 16, s);
	CHECK_STREQ(s, "WoVso0wC9Bo/r9jeVrRoMw==");
	encode_hex(md5, 16, s);
	CHECK_STREQ(s, "5a856ca34c02f41a3fafd8de56b46833");
	CHECK_EQ(decode_hex("5a856ca34c02f41a3fafd8de56b46833", 16, out), 0);
	CHECK(!memcmp(out, md5, 16));
	CHECK_EQ(decode_hex("5g", 1, out), -EINVAL);

	CHECK_EQ(uri_encode("a b+c\xc3\xa9/~x", 10, true, s, sizeof(s), &len), 0);
	CHECK_STREQ(s, "a%20b%2Bc%C3%A9/~x");
	len = 0;
	CHECK_EQ(uri_encode("a/b", 3, false, s, sizeof(s), &len), 0);
	CHECK_STREQ(s, "a%2Fb");
	len = 0;
	CHECK_EQ(uri_encode("a/b", 3, false, s, 5, &len), -ENAMETOOLONG);
}

int main(void)
{
	RUN_TEST(test_put_blob);
	RUN_TEST(test_list_blobs);
	RUN_TEST(test_conn);
	RUN_TEST(test_encoders);
	return test_finish();
}
