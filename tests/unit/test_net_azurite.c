/* test_net_azurite: the objstore suite through the Azure backend against
 * Azurite, which verifies Shared Key / SAS signatures and Content-MD5 on
 * Put Blob and Put Block; plus SAS-only access and credentials from the
 * environment (connection string, account + key). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "servers/objstore_suite.h"
#include "servers/server_env.h"

static void test_env_credentials(const char *url)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_info info;
	struct objstore *os = NULL;
	char cs[600];
	int err;

	/* connection string from the environment */
	snprintf(cs, sizeof(cs), "%s", getenv("SNAP_AZURITE_CONNECTION_STRING"));
	setenv("AZURE_STORAGE_CONNECTION_STRING", cs, 1);
	err = objstore_open(url, NULL, NULL, &os, &eb);
	CHECK_EQ(err, 0);
	if (!err) {
		CHECK_EQ(objstore_head(os, "env/obj", &info, &eb), 0);
		CHECK_EQ(info.size, 3);
	}
	objstore_free(os);
	unsetenv("AZURE_STORAGE_CONNECTION_STRING");

	/* account + key from the environment, endpoint from the options */
	setenv("AZURE_STORAGE_ACCOUNT", getenv("SNAP_AZURITE_ACCOUNT"), 1);
	setenv("AZURE_STORAGE_KEY", getenv("SNAP_AZURITE_KEY"), 1);
	snprintf(cs, sizeof(cs), "{\"blob_endpoint\": \"%s\"}",
		 getenv("SNAP_AZURITE_ENDPOINT"));
	os = NULL;
	err = objstore_open(url, cs, NULL, &os, &eb);
	CHECK_EQ(err, 0);
	if (!err)
		CHECK_EQ(objstore_head(os, "env/obj", &info, &eb), 0);
	objstore_free(os);
	unsetenv("AZURE_STORAGE_ACCOUNT");
	unsetenv("AZURE_STORAGE_KEY");

	/* nothing at all: a clear error */
	os = NULL;
	errbuf_clear(&eb);
	CHECK_EQ(objstore_open(url, NULL, NULL, &os, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "AZURE_STORAGE_CONNECTION_STRING") != NULL);
	CHECK(os == NULL);
}

int main(void)
{
	struct suite_caps c;
	char opts[800], bad[800], url[64];
	struct errbuf eb = ERRBUF_INIT;
	struct body_src src = mem_src("abc", 3);
	struct objstore *os;

	server_ensure("azurite", "SNAP_AZURITE_ENDPOINT", "SNAP_AZURITE_STATE",
		      "");
	unsetenv("AZURE_STORAGE_CONNECTION_STRING");
	unsetenv("AZURE_STORAGE_ACCOUNT");
	unsetenv("AZURE_STORAGE_KEY");
	unsetenv("AZURE_STORAGE_SAS_TOKEN");
	snprintf(opts, sizeof(opts), "{\"connection_string\": \"%s\"}",
		 getenv("SNAP_AZURITE_CONNECTION_STRING"));
	/* a valid base64 key that is not the account's */
	snprintf(bad, sizeof(bad),
		 "{\"account_name\": \"%s\", \"account_key\": "
		 "\"d3JvbmdzZWNyZXR3cm9uZ3NlY3JldA==\", "
		 "\"blob_endpoint\": \"%s\"}",
		 getenv("SNAP_AZURITE_ACCOUNT"), getenv("SNAP_AZURITE_ENDPOINT"));
	snprintf(url, sizeof(url), "az://snaptest-%d/pre/fix", (int)getpid());
	memset(&c, 0, sizeof(c));
	c.url = url;
	c.options = opts;
	c.bad_options = bad;
	c.checks_md5 = true;
	c.md5_code = "Md5Mismatch";
	c.auth_code = "AuthorizationFailure";
	c.auth_status = 403;
	suite_run(&c);

	os = suite_open(&c, opts, NULL);
	if (os) {
		CHECK_EQ(objstore_put(os, "env/obj", &src, NULL, NULL, &eb), 0);
		objstore_free(os);
	}
	test_env_credentials(url);
	return test_finish();
}
