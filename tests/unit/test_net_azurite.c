/* test_net_azurite: the objstore suite through the Azure backend against
 * Azurite, which verifies Shared Key / SAS signatures and Content-MD5 on
 * Put Blob and Put Block; plus SAS-only access and credentials from the
 * environment (connection string, account + key). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "servers/objstore_suite.h"
#include "encode.h"
#include "servers/server_env.h"
#include "uri.h"

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

/* An account SAS as azure_sharedkey_example.py's account_sas() makes it. */
static void make_sas(char *out, size_t cap, const char *perms)
{
	const char *account = getenv("SNAP_AZURITE_ACCOUNT");
	const char *key_b64 = getenv("SNAP_AZURITE_KEY");
	char sts[512], b64[64];
	uint8_t key[128], mac[32];
	size_t len = 0;
	int klen;

	snprintf(sts, sizeof(sts), "%s\n%s\nb\nsco\n\n2099-01-01T00:00:00Z"
		 "\n\n\n2025-11-05\n\n", account, perms);
	klen = decode_base64(key_b64, strlen(key_b64), key, sizeof(key));
	CHECK(klen > 0);
	CHECK_EQ(digest_hmac_sha256(key, (size_t)klen, sts, strlen(sts), mac), 0);
	encode_base64(mac, sizeof(mac), b64);
	len = (size_t)snprintf(out, cap, "sv=2025-11-05&ss=b&srt=sco&sp=%s&"
			       "se=2099-01-01T00%%3A00%%3A00Z&sig=", perms);
	CHECK_EQ(uri_encode(b64, strlen(b64), false, out, cap, &len), 0);
}

static void test_sas(const char *url)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_info info;
	struct body_src src = mem_src("via sas", 7);
	struct body_sink sink = mem_sink(64);
	struct objstore *os = NULL;
	struct list_seen seen;
	char sas[512], opts[1024];
	int err;

	make_sas(sas, sizeof(sas), "rwdlac");
	snprintf(opts, sizeof(opts), "{\"account_name\": \"%s\", "
		 "\"sas_token\": \"?%s\", \"blob_endpoint\": \"%s\"}",
		 getenv("SNAP_AZURITE_ACCOUNT"), sas,
		 getenv("SNAP_AZURITE_ENDPOINT"));
	err = objstore_open(url, opts, NULL, &os, &eb);
	CHECK_EQ(err, 0);
	if (err)
		return;
	err = objstore_put(os, "sas/obj", &src, NULL, NULL, &eb);
	if (err)
		fprintf(stderr, "sas put: %s\n", eb.msg);
	CHECK_EQ(err, 0);
	CHECK_EQ(objstore_head(os, "sas/obj", &info, &eb), 0);
	CHECK_EQ(info.size, 7);
	CHECK_EQ(objstore_get(os, "sas/obj", 0, 0, &sink, NULL, &eb), 0);
	CHECK(sink.mem_len == 7 && !memcmp(sink.mem, "via sas", 7));
	body_sink_release(&sink);
	CHECK_EQ(objstore_copy(os, "sas/obj", "sas/copy", &eb), 0);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(objstore_list(os, "sas/", list_cb, &seen, &eb), 0);
	CHECK_EQ(seen.n, 2);
	CHECK_EQ(objstore_del(os, "sas/obj", &eb), 0);
	CHECK_EQ(objstore_del(os, "sas/copy", &eb), 0);
	objstore_free(os);

	/* a SAS without write permission: 403, and no token in the message */
	make_sas(sas, sizeof(sas), "rl");
	snprintf(opts, sizeof(opts), "{\"account_name\": \"%s\", "
		 "\"sas_token\": \"%s\", \"blob_endpoint\": \"%s\"}",
		 getenv("SNAP_AZURITE_ACCOUNT"), sas,
		 getenv("SNAP_AZURITE_ENDPOINT"));
	os = NULL;
	CHECK_EQ(objstore_open(url, opts, NULL, &os, &eb), 0);
	if (!os)
		return;
	errbuf_clear(&eb);
	err = objstore_put(os, "sas/denied", &src, NULL, NULL, &eb);
	fprintf(stderr, "expected error: %s\n", eb.msg);
	CHECK_EQ(err, -EACCES);
	CHECK(strstr(eb.msg, "403") != NULL);
	CHECK(strstr(eb.msg, "sig=") == NULL);
	CHECK(strstr(eb.msg, "sv=") == NULL);
	objstore_free(os);
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
	test_sas(url);
	return test_finish();
}
