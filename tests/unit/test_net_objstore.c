/* test_net_objstore: objstore_open without a server: URLs, storage
 * options, credentials from the environment, and that secrets stay out of
 * the messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objstore.h"
#include "objstore_impl.h"   /* objstore_check_key */
#include "test.h"

static void clear_env(void)
{
	static const char *const vars[] = {
		"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT",
		"AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
		"AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
		"AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY",
	};
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	/* no ~/.aws of the user running the tests */
	setenv("HOME", "/nonexistent-snapshooter-home", 1);
}

static int open_err(const char *url, const char *opts, struct errbuf *eb)
{
	struct objstore *os = (struct objstore *)1;
	int err;

	errbuf_clear(eb);
	err = objstore_open(url, opts, NULL, &os, eb);
	if (!err)
		objstore_free(os);
	else
		CHECK(os == NULL);
	return err;
}

static void test_urls(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore *os = NULL;

	clear_env();
	CHECK_EQ(open_err("gs://bucket", NULL, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "expected s3:// or az://") != NULL);
	CHECK_EQ(open_err("s3://", "{\"key\":\"k\",\"secret\":\"s\"}", &eb),
		 -EINVAL);
	CHECK_EQ(open_err("s3:///x", "{\"key\":\"k\",\"secret\":\"s\"}", &eb),
		 -EINVAL);
	CHECK_EQ(objstore_open("s3://b//p/q//", "{\"key\":\"k\",\"secret\":\"s\"}",
			       NULL, &os, &eb), 0);
	if (os)
		CHECK_STREQ(objstore_url(os), "s3://b/p/q");
	objstore_free(os);
	os = NULL;
	CHECK_EQ(objstore_open("az://c", "{\"connection_string\":"
			       "\"UseDevelopmentStorage=true\"}", NULL, &os, &eb),
		 0);
	if (os)
		CHECK_STREQ(objstore_url(os), "az://c");
	objstore_free(os);
}

static void test_options(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct objstore_config cfg;
	struct objstore *os = NULL;

	clear_env();
	/* options snapshooter does not use are ignored (with a warning) */
	CHECK_EQ(open_err("s3://b", "{\"key\":\"k\",\"secret\":\"s\","
			  "\"use_ssl\":true,\"client_kwargs\":{\"verify\":"
			  "false}}", &eb), 0);
	CHECK_EQ(open_err("s3://b", "{\"anon\":true}", &eb), 0);
	CHECK_EQ(open_err("s3://b", "{\"anon\":\"maybe\"}", &eb), -EINVAL);
	CHECK(strstr(eb.msg, "anon") != NULL);
	CHECK_EQ(open_err("az://c", "{\"endpoint_url\":\"x\"}", &eb), -EINVAL);
	CHECK(strstr(eb.msg, "no Azure storage account") != NULL);
	CHECK_EQ(open_err("s3://b", "{\"key\":\"k\",\"secret\":\"hunter2\","
			  "\"endpoint_url\":\"ftp://h\"}", &eb), -EINVAL);
	CHECK(strstr(eb.msg, "hunter2") == NULL);
	CHECK_EQ(open_err("s3://b", "{\"key\": }", &eb), -EINVAL);
	objstore_config_defaults(&cfg);
	cfg.part_size = 1 << 20;
	CHECK_EQ(objstore_open("s3://b", "{\"key\":\"k\",\"secret\":\"s\"}",
			       &cfg, &os, &eb), -EINVAL);
	CHECK(os == NULL);
}

static void test_credentials(void)
{
	struct errbuf eb = ERRBUF_INIT;

	clear_env();
	CHECK_EQ(open_err("s3://b", NULL, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "AWS_ACCESS_KEY_ID") != NULL);
	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	CHECK_EQ(open_err("s3://b", NULL, &eb), -EINVAL);   /* no secret */
	setenv("AWS_SECRET_ACCESS_KEY", "topsecret", 1);
	CHECK_EQ(open_err("s3://b", NULL, &eb), 0);
	setenv("AWS_REGION", "eu:bad", 1);
	CHECK_EQ(open_err("s3://b", NULL, &eb), -EINVAL);
	/* options win over the environment */
	CHECK_EQ(open_err("s3://b", "{\"region\":\"eu-west-1\"}", &eb), 0);
	clear_env();

	CHECK_EQ(open_err("az://c", NULL, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "AZURE_STORAGE_CONNECTION_STRING") != NULL);
	setenv("AZURE_STORAGE_ACCOUNT", "acct", 1);
	CHECK_EQ(open_err("az://c", NULL, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "AZURE_STORAGE_KEY") != NULL);
	setenv("AZURE_STORAGE_KEY", "not base64 at all!", 1);
	CHECK_EQ(open_err("az://c", NULL, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "not base64") != NULL);
	CHECK(strstr(eb.msg, "at all") == NULL);
	setenv("AZURE_STORAGE_KEY", "a2V5a2V5a2V5", 1);
	CHECK_EQ(open_err("az://c", NULL, &eb), 0);
	unsetenv("AZURE_STORAGE_KEY");
	setenv("AZURE_STORAGE_SAS_TOKEN", "?sv=x&sig=y", 1);
	CHECK_EQ(open_err("az://c", NULL, &eb), 0);
	clear_env();
	setenv("AZURE_STORAGE_CONNECTION_STRING",
	       "AccountName=a;AccountKey=a2V5;EndpointSuffix=example.org", 1);
	CHECK_EQ(open_err("az://c", NULL, &eb), 0);
	setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=a", 1);
	CHECK_EQ(open_err("az://c", NULL, &eb), -EINVAL);
	/* a SAS connection string needs no account name */
	setenv("AZURE_STORAGE_CONNECTION_STRING",
	       "BlobEndpoint=http://127.0.0.1:1/acct;"
	       "SharedAccessSignature=sv=x&sig=topsecret", 1);
	CHECK_EQ(open_err("az://c", NULL, &eb), 0);
	setenv("AZURE_STORAGE_CONNECTION_STRING",
	       "BlobEndpoint=http://127.0.0.1:1/acct", 1);
	CHECK_EQ(open_err("az://c", NULL, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "endpoint 'http://127.0.0.1:1/acct'") != NULL);
	clear_env();
	/* adlfs's variable names */
	setenv("AZURE_STORAGE_ACCOUNT_NAME", "acct", 1);
	CHECK_EQ(open_err("az://c", NULL, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "AZURE_STORAGE_ACCOUNT_KEY") != NULL);
	setenv("AZURE_STORAGE_ACCOUNT_KEY", "a2V5a2V5a2V5", 1);
	CHECK_EQ(open_err("az://c", NULL, &eb), 0);
	clear_env();
	/* anon: no credentials; account_host or an account names the host */
	CHECK_EQ(open_err("az://c", "{\"anon\":true}", &eb), -EINVAL);
	CHECK_EQ(open_err("az://c", "{\"anon\":true,\"account_name\":\"a\"}",
			  &eb), 0);
	CHECK_EQ(open_err("az://c", "{\"anon\":true,"
			  "\"account_host\":\"a.blob.example.org\"}", &eb), 0);
	CHECK_EQ(open_err("az://c", "{\"anon\":\"yes\"}", &eb), -EINVAL);
	/* Shared Key needs the account */
	CHECK_EQ(open_err("az://c", "{\"account_key\":\"a2V5\","
			  "\"account_host\":\"a.blob.example.org\"}", &eb),
		 -EINVAL);
	CHECK_EQ(open_err("az://c", "{\"account_key\":\"a2V5\","
			  "\"account_name\":\"a\","
			  "\"account_host\":\"a.blob.example.org\"}", &eb), 0);
	clear_env();
}

/* Names a store would keep as another are refused before any request:
 * Azure's backslash and trailing dots, and anything not UTF-8 on either
 * service; what this tool writes itself passes. */
static void test_key_names(void)
{
	static const char *const ours[] = {
		"d4/d41d8cd98f00b204e9800998ecf8427e",
		"d4/d41d8cd98f00b204e9800998ecf8427e.gz",
		"2026/12/2026-12-08_01-02-03_123456Z.msgpack",
		"2026/12/2026-12-08_01-02-03_123456Z.jsonl.gz",
		"locks/shared-0123456789abcdef.lock", "temp/1234.gz",
		"dir/caf\xc3\xa9.txt", "a.b/c", ".hidden", "x..y",
	};
	struct errbuf eb = ERRBUF_INIT;
	struct objstore *s3 = NULL, *az = NULL;
	size_t i;

	clear_env();
	CHECK_EQ(objstore_open("s3://b/p", "{\"key\":\"k\",\"secret\":\"s\"}",
			       NULL, &s3, &eb), 0);
	CHECK_EQ(objstore_open("az://c/p", "{\"connection_string\":"
			       "\"UseDevelopmentStorage=true\"}", NULL, &az,
			       &eb), 0);
	if (!s3 || !az)
		goto out;
	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		CHECK_EQ(objstore_check_key(s3, ours[i], &eb), 0);
		CHECK_EQ(objstore_check_key(az, ours[i], &eb), 0);
	}
	CHECK_EQ(objstore_check_key(s3, "x\\y", &eb), 0);
	CHECK_EQ(objstore_check_key(s3, "dot.", &eb), 0);
	CHECK_EQ(objstore_check_key(az, "x\\y", &eb), -EINVAL);
	CHECK(strstr(eb.msg, "cannot use the name 'x\\x5cy' in 'az://c/p': "
		     "Azure Blob Storage turns") != NULL);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_check_key(az, "dot.", &eb), -EINVAL);
	CHECK(strstr(eb.msg, "drops a '.'") != NULL);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_check_key(az, "dir./f", &eb), -EINVAL);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_check_key(s3, "caf\xe9", &eb), -EILSEQ);
	CHECK(strstr(eb.msg, "object names must be UTF-8") != NULL);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_check_key(az, "caf\xe9", &eb), -EILSEQ);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_check_key(s3, "\xed\xa0\x80", &eb), -EILSEQ);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_check_key(s3, "", &eb), -EINVAL);
	errbuf_clear(&eb);
	/* the same rules without an open store, by the URL's scheme */
	CHECK_EQ(objstore_check_name("az://c/p", "x\\y", &eb), -EINVAL);
	CHECK(strstr(eb.msg, "cannot use the name 'x\\x5cy' in 'az://c/p'") !=
	      NULL);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_check_name("az://c/p", "dir./f", &eb), -EINVAL);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_check_name("s3://b/p", "x\\y", &eb), 0);
	CHECK_EQ(objstore_check_name("s3://b/p", "caf\xe9", &eb), -EILSEQ);
	errbuf_clear(&eb);
	CHECK_EQ(objstore_check_name("az://c", "caf\xe9", &eb), -EILSEQ);
	errbuf_clear(&eb);
	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		CHECK_EQ(objstore_check_name("az://c", ours[i], &eb), 0);
out:
	objstore_free(s3);
	objstore_free(az);
}

int main(void)
{
	RUN_TEST(test_urls);
	RUN_TEST(test_key_names);
	RUN_TEST(test_options);
	RUN_TEST(test_credentials);
	return test_finish();
}
