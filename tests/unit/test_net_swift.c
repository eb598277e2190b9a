/* test_net_swift: the objstore suite through the S3 backend against
 * OpenStack Swift with s3api, which verifies SigV4 (with the payload hash
 * and canonical query), Content-MD5 and multipart part sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "servers/objstore_suite.h"
#include "servers/server_env.h"

int main(void)
{
	struct suite_caps c;
	char opts[512], bad[512], url[64];

	server_ensure("swift", "SNAP_SWIFT_ENDPOINT", "SNAP_SWIFT_STATE", "");
	snprintf(opts, sizeof(opts),
		 "{\"endpoint_url\": \"%s\", \"key\": \"%s\", \"secret\": \"%s\"}",
		 getenv("SNAP_SWIFT_ENDPOINT"), getenv("SNAP_SWIFT_KEY"),
		 getenv("SNAP_SWIFT_SECRET"));
	snprintf(bad, sizeof(bad),
		 "{\"endpoint_url\": \"%s\", \"key\": \"%s\", "
		 "\"secret\": \"wrongsecret\"}", getenv("SNAP_SWIFT_ENDPOINT"),
		 getenv("SNAP_SWIFT_KEY"));
	snprintf(url, sizeof(url), "s3://snaptest-%d/pre/fix", (int)getpid());
	memset(&c, 0, sizeof(c));
	c.url = url;
	c.options = opts;
	c.bad_options = bad;
	c.checks_md5 = true;
	c.md5_code = "BadDigest";
	c.auth_code = "SignatureDoesNotMatch";
	c.auth_status = 403;
	c.lists_uploads = true;
	suite_run(&c);
	return test_finish();
}
