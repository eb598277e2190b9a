/* test_net_sigv4: the SigV4 signer (sigv4.h) against signatures made by
 * others: AWS's own example ("GET Object" of the S3 API reference's
 * "Signature Calculations for the Authorization Header") and botocore's
 * S3SigV4Auth (Debian's python3-botocore) on requests shaped like this
 * engine's (session token, metadata, Content-MD5, a port, a query, a
 * secret longer than an HMAC block, blanks in a value). Every signature
 * is also checked live by Swift's s3api in the e2e tests. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"
#include "test.h"

#define EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* The three lines sigv4_sign puts before headers, joined by '|'. */
static int sign(struct sigv4 *sv, const char *method, const char *url,
		const char *const *lines, time_t when, char *out, size_t cap)
{
	struct curl_slist *h = NULL, *s, *l;
	size_t len = 0;
	int err;

	for (; *lines; lines++)
		h = curl_slist_append(h, *lines);
	err = sigv4_sign(sv, method, url, h, when, &s);
	out[0] = '\0';
	if (!err) {
		for (l = s; l != h; l = l->next)
			len += (size_t)snprintf(out + len, cap - len, "%s%s",
						len ? "|" : "", l->data);
		free(s);
	}
	curl_slist_free_all(h);
	return err;
}

static void test_aws_example(void)
{
	static const char *const h[] = { "Range: bytes=0-9",
		"x-amz-content-sha256: " EMPTY_SHA256, NULL };
	struct sigv4 sv;
	char out[1024];

	CHECK_EQ(sigv4_init(&sv, "AKIAIOSFODNN7EXAMPLE",
			    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			    "us-east-1", "s3"), 0);
	/* 2013-05-24T00:00:00Z */
	CHECK_EQ(sign(&sv, "GET",
		      "https://examplebucket.s3.amazonaws.com/test.txt", h,
		      1369353600, out, sizeof(out)), 0);
	CHECK_STREQ(out, "Host: examplebucket.s3.amazonaws.com|"
		    "x-amz-date: 20130524T000000Z|"
		    "Authorization: AWS4-HMAC-SHA256 Credential="
		    "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
		    "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
		    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48d"
		    "d91039c6036bdb41");
	/* the key of the day is kept: the same request signs the same */
	CHECK_EQ(sign(&sv, "GET",
		      "https://examplebucket.s3.amazonaws.com/test.txt", h,
		      1369353600, out, sizeof(out)), 0);
	CHECK(strstr(out, "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f"
		     "0170aba48dd91039c6036bdb41") != NULL);
}

static void test_botocore(void)
{
	/* botocore signs the payload of a request sent in the clear */
	static const char *const put[] = {
		"x-amz-content-sha256: " EMPTY_SHA256,
		"x-amz-security-token: tok/en+1==",
		"Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==",
		"Content-Type: application/octet-stream",
		"x-amz-meta-mtime: 1796393283.649778886", NULL };
	static const char *const list[] = {
		"x-amz-content-sha256: " EMPTY_SHA256,
		"X-Amz-Meta-Note:   two   spaces\tand tab  ", NULL };
	struct sigv4 sv;
	char out[1024];

	/* 2026-12-07T19:30:12Z, a port, an encoded key, a token */
	CHECK_EQ(sigv4_init(&sv, "test:tester", "testing", "eu-west-3", "s3"),
		 0);
	CHECK_EQ(sign(&sv, "PUT", "http://127.0.0.1:8080/heap/ab/ab12%20x%2Bc",
		      put, 1796671812, out, sizeof(out)), 0);
	CHECK_STREQ(out, "Host: 127.0.0.1:8080|x-amz-date: 20261207T193012Z|"
		    "Authorization: AWS4-HMAC-SHA256 Credential=test:tester/"
		    "20261207/eu-west-3/s3/aws4_request, SignedHeaders="
		    "content-md5;content-type;host;x-amz-content-sha256;"
		    "x-amz-date;x-amz-meta-mtime;x-amz-security-token, "
		    "Signature=f21b7a710e069469afb64a02a42a817323dfea60ab1f3aba"
		    "8e25e66b80c05061");

	/* 2099-12-31T23:59:59Z, a query, a secret over 64 bytes, blanks */
	CHECK_EQ(sigv4_init(&sv, "AK", "a-secret-longer-than-sixty-four-bytes"
			    "-so-that-the-hmac-key-is-hashed-first-0123456789",
			    "us-east-1", "s3"), 0);
	CHECK_EQ(sign(&sv, "GET", "http://localhost:9000/bkt?list-type=2&"
		      "max-keys=2&prefix=ab%2F", list, 4102444799, out,
		      sizeof(out)), 0);
	CHECK(strstr(out, "SignedHeaders=host;x-amz-content-sha256;"
		     "x-amz-date;x-amz-meta-note, Signature=cfdb1937ea992e4b5f"
		     "17a7360feca099c06edd0b769546003435798945be9a1a") != NULL);
}

static void test_refused(void)
{
	static const char *const none[] = { "Content-Type: x", NULL };
	static const char *const host[] = {
		"x-amz-content-sha256: UNSIGNED-PAYLOAD", "Host: other", NULL };
	static const char *const twice[] = {
		"x-amz-content-sha256: UNSIGNED-PAYLOAD", "x-amz-meta-a: 1",
		"X-Amz-Meta-A: 2", NULL };
	static const char *const removed[] = {
		"x-amz-content-sha256: UNSIGNED-PAYLOAD", "Expect:", NULL };
	struct sigv4 sv;
	char out[1024];

	CHECK_EQ(sigv4_init(&sv, "k", "s", "us-east-1", "s3"), 0);
	/* no payload hash to sign */
	CHECK_ERR(sign(&sv, "GET", "http://h/b/k", none, 0, out, sizeof(out)),
		  EINVAL);
	/* headers the signer writes, a name twice, no host */
	CHECK_ERR(sign(&sv, "GET", "http://h/b/k", host, 0, out, sizeof(out)),
		  EINVAL);
	CHECK_ERR(sign(&sv, "GET", "http://h/b/k", twice, 0, out,
		       sizeof(out)), EINVAL);
	CHECK_ERR(sign(&sv, "GET", "http:///b/k", removed, 0, out,
		       sizeof(out)), EINVAL);
	CHECK_ERR(sign(&sv, "GET", "no-scheme", removed, 0, out, sizeof(out)),
		  EINVAL);
	/* "Expect:" removes a header curl would send: not signed */
	CHECK_EQ(sign(&sv, "GET", "http://h", removed, 0, out, sizeof(out)), 0);
	CHECK(strstr(out, "SignedHeaders=host;x-amz-content-sha256;"
		     "x-amz-date,") != NULL);
	CHECK(strstr(out, "Host: h|") == out);
	CHECK_ERR(sigv4_init(&sv, "k", "s", "a-region-name-longer-than-the-"
			     "sixty-four-bytes-the-signer-keeps-for-one", "s3"),
		  EINVAL);
}

int main(void)
{
	RUN_TEST(test_aws_example);
	RUN_TEST(test_botocore);
	RUN_TEST(test_refused);
	return test_finish();
}
