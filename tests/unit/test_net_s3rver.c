/* test_net_s3rver: the objstore suite through the S3 backend against a
 * real s3rver (no signature or MD5 checks there; see test_net_swift). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "servers/objstore_suite.h"
#include "servers/server_env.h"

int main(void)
{
	struct suite_caps c;
	char opts[512], bad[512], url[64];

	server_ensure("s3rver", "SNAP_S3RVER_ENDPOINT", "SNAP_S3RVER_STATE",
		      "");
	snprintf(opts, sizeof(opts),
		 "{\"endpoint_url\": \"%s\", \"key\": \"%s\", \"secret\": \"%s\"}",
		 getenv("SNAP_S3RVER_ENDPOINT"), getenv("SNAP_S3RVER_KEY"),
		 getenv("SNAP_S3RVER_SECRET"));
	/* s3rver checks only the access key */
	snprintf(bad, sizeof(bad),
		 "{\"endpoint_url\": \"%s\", \"key\": \"nobody\", "
		 "\"secret\": \"wrongsecret\"}", getenv("SNAP_S3RVER_ENDPOINT"));
	snprintf(url, sizeof(url), "s3://snaptest-%d/pre/fix", (int)getpid());
	memset(&c, 0, sizeof(c));
	c.url = url;
	c.options = opts;
	c.bad_options = bad;
	c.checks_md5 = false;
	c.auth_code = "InvalidAccessKeyId";
	c.auth_status = 403;
	suite_run(&c);
	return test_finish();
}
