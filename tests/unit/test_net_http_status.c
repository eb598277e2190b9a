/* test_net_http_status: CURLcode / HTTP status / store code -> -errno and
 * the retry policy (which failures, how long to wait). */
#include <errno.h>

#include "http_status.h"
#include "retry.h"
#include "test.h"

static void test_map(void)
{
	bool r;

	CHECK_EQ(http_status_errno(CURLE_OK, 200, NULL, &r), 0);
	CHECK(!r);
	CHECK_EQ(http_status_errno(CURLE_OK, 206, "", &r), 0);
	CHECK_EQ(http_status_errno(CURLE_OK, 404, "NoSuchKey", &r), -ENOENT);
	CHECK(!r);
	CHECK_EQ(http_status_errno(CURLE_OK, 403, "SignatureDoesNotMatch", &r),
		 -EACCES);
	CHECK(!r);
	CHECK_EQ(http_status_errno(CURLE_OK, 400, "BadDigest", &r), -EBADMSG);
	CHECK(!r);
	CHECK_EQ(http_status_errno(CURLE_OK, 400, "Md5Mismatch", &r), -EBADMSG);
	CHECK_EQ(http_status_errno(CURLE_OK, 400, "InvalidDigest", &r), -EBADMSG);
	CHECK_EQ(http_status_errno(CURLE_OK, 400, "Other", &r), -EINVAL);
	CHECK_EQ(http_status_errno(CURLE_OK, 409, "BucketAlreadyOwnedByYou", &r),
		 -EEXIST);
	CHECK_EQ(http_status_errno(CURLE_OK, 501, NULL, &r), -EOPNOTSUPP);
	CHECK(!r);
	CHECK_EQ(http_status_errno(CURLE_OK, 416, NULL, &r), -ERANGE);
	/* transient */
	CHECK_EQ(http_status_errno(CURLE_OK, 503, "SlowDown", &r), -EAGAIN);
	CHECK(r);
	CHECK_EQ(http_status_errno(CURLE_OK, 503, NULL, &r), -EAGAIN);
	CHECK(r);
	CHECK_EQ(http_status_errno(CURLE_OK, 429, NULL, &r), -EAGAIN);
	CHECK(r);
	CHECK_EQ(http_status_errno(CURLE_OK, 500, NULL, &r), -EIO);
	CHECK(r);
	CHECK_EQ(http_status_errno(CURLE_OK, 502, NULL, &r), -EIO);
	CHECK(r);
	CHECK_EQ(http_status_errno(CURLE_OK, 504, NULL, &r), -ETIMEDOUT);
	CHECK(r);
	CHECK_EQ(http_status_errno(CURLE_OK, 400, "RequestTimeout", &r), -EAGAIN);
	CHECK(r);
	CHECK_EQ(http_status_errno(CURLE_COULDNT_CONNECT, 0, NULL, &r),
		 -ECONNREFUSED);
	CHECK(r);
	CHECK_EQ(http_status_errno(CURLE_OPERATION_TIMEDOUT, 0, NULL, &r),
		 -ETIMEDOUT);
	CHECK(r);
	CHECK_EQ(http_status_errno(CURLE_RECV_ERROR, 0, NULL, &r), -ECONNRESET);
	CHECK(r);
	CHECK_EQ(http_status_errno(CURLE_GOT_NOTHING, 0, NULL, &r), -ECONNRESET);
	CHECK(r);
	CHECK_EQ(http_status_errno(CURLE_PEER_FAILED_VERIFICATION, 0, NULL, &r),
		 -EPROTO);
	CHECK(!r);
	CHECK_EQ(http_status_errno(CURLE_URL_MALFORMAT, 0, NULL, NULL), -EINVAL);
	CHECK_STREQ(http_status_reason(404), "Not Found");
	CHECK_STREQ(http_status_reason(299), "");
}

static void test_retry(void)
{
	struct retry_policy p = { 3, 100, 1000 };
	uint64_t rng = 42;
	unsigned i, d;

	CHECK(retry_should(&p, 1, true, true));
	CHECK(retry_should(&p, 3, true, true));
	CHECK(!retry_should(&p, 4, true, true));    /* 1 try + 3 retries */
	CHECK(!retry_should(&p, 1, false, true));   /* not idempotent */
	CHECK(!retry_should(&p, 1, true, false));   /* permanent error */
	for (i = 0; i < 200; i++) {
		d = retry_delay_ms(&p, 1, &rng);
		CHECK(d >= 50 && d <= 100);
		d = retry_delay_ms(&p, 3, &rng);
		CHECK(d >= 200 && d <= 400);
		d = retry_delay_ms(&p, 30, &rng);   /* capped */
		CHECK(d >= 500 && d <= 1000);
	}
	/* jitter: not always the same value */
	{
		unsigned a = retry_delay_ms(&p, 5, &rng), diff = 0;

		for (i = 0; i < 20; i++)
			diff += retry_delay_ms(&p, 5, &rng) != a;
		CHECK(diff > 0);
	}
	p.retries = 0;
	CHECK(!retry_should(&p, 1, true, true));
}

int main(void)
{
	RUN_TEST(test_map);
	RUN_TEST(test_retry);
	return test_finish();
}
