/* test_net_s3_conf: the AWS shared-file reader (aws_config.h) and the
 * precedence of S3 settings (s3_conf.h): options > environment > files,
 * profiles, endpoints, addressing styles; no server involved. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws_config.h"
#include "json_opts.h"
#include "s3_conf.h"
#include "test.h"

static char dir[256];

static void clear_env(void)
{
	static const char *const vars[] = {
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	};
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	setenv("HOME", dir, 1);
}

static int parse(const char *text, bool is_config, const char *profile,
		 struct aws_profile *p, struct errbuf *eb)
{
	memset(p, 0, sizeof(*p));
	errbuf_clear(eb);
	return aws_config_parse(text, strlen(text), "F", is_config, profile,
				p, eb);
}

static void test_parse(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct aws_profile p;
	static const char conf[] =
		"# comment\n"
		"; other comment\n"
		"[default]\n"
		"region = eu-west-1\n"
		"\n"
		"[profile dev]\r\n"
		"  Region=us-west-2  \r\n"
		"aws_access_key_id: AKDEV\r\n"
		"s3 =\r\n"
		"  addressing_style = path\r\n"
		"\tendpoint_url = http://s3.dev:1\r\n"
		"endpoint_url = http://global.dev:2\r\n"
		"services = local\r\n"
		"[services local]\n"
		"s3 =\n"
		"  endpoint_url = http://svc.local:3\n"
		"sts =\n"
		"  endpoint_url = http://sts.local:4\n"
		"[dev]\n"
		"region = not-a-profile-in-config\n";

	CHECK_EQ(parse(conf, true, "dev", &p, &eb), 0);
	CHECK(p.found);
	CHECK_STREQ(p.region, "us-west-2");
	CHECK_STREQ(p.access_key, "AKDEV");
	CHECK_STREQ(p.addressing_style, "path");
	CHECK_STREQ(p.endpoint_url, "http://global.dev:2");
	/* the services section beats the profile's own s3 block */
	CHECK_STREQ(p.s3_endpoint_url, "http://svc.local:3");
	CHECK_EQ(parse(conf, true, "default", &p, &eb), 0);
	CHECK(p.found);
	CHECK_STREQ(p.region, "eu-west-1");
	CHECK_STREQ(p.s3_endpoint_url, "");
	CHECK_EQ(parse(conf, true, "nope", &p, &eb), 0);
	CHECK(!p.found);
	/* credentials file: [name], no "profile " prefix */
	CHECK_EQ(parse("[dev]\naws_secret_access_key = S/+=x\n"
		       "aws_session_token=T\n[profile dev]\nregion=x\n", false,
		       "dev", &p, &eb), 0);
	CHECK(p.found);
	CHECK_STREQ(p.secret, "S/+=x");
	CHECK_STREQ(p.token, "T");
	CHECK_STREQ(p.region, "");
	/* a profile without the s3 block keeps no nested value */
	CHECK_EQ(parse("[default]\ns3 =\n  max_concurrent_requests = 4\n"
		       "region = r\n", true, "default", &p, &eb), 0);
	CHECK_STREQ(p.region, "r");
	CHECK_STREQ(p.addressing_style, "");
}

static void test_parse_errors(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct aws_profile p;
	char *big;

	CHECK_EQ(parse("region = x\n", true, "default", &p, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "'F' line 1") != NULL);
	CHECK_EQ(parse("[default]\nnot a pair\n", true, "default", &p, &eb),
		 -EINVAL);
	CHECK(strstr(eb.msg, "line 2") != NULL);
	CHECK_EQ(parse("[default\n", true, "default", &p, &eb), -EINVAL);
	/* the value (a secret) is not in the message */
	CHECK_EQ(parse("[default]\naws_secret_access_key=s3cr3t\n[x\n", false,
		       "default", &p, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "s3cr3t") == NULL);
	big = malloc(AWS_CONFIG_LINE_MAX + 32);
	CHECK(big != NULL);
	if (!big)
		return;
	memcpy(big, "[default]\nregion=", 17);
	memset(big + 17, 'a', AWS_CONFIG_LINE_MAX);
	big[17 + AWS_CONFIG_LINE_MAX] = '\0';
	CHECK_EQ(parse(big, true, "default", &p, &eb), -E2BIG);
	CHECK(strstr(eb.msg, "line 2") != NULL);
	free(big);
	/* a UTF-8 byte order mark before the first section */
	CHECK_EQ(parse("\xef\xbb\xbf[default]\nregion=r\n", true, "default",
		       &p, &eb), 0);
	CHECK_STREQ(p.region, "r");
	CHECK_EQ(aws_config_parse("[default]\nregion=a\0b\n", 19, "F", true,
				  "default", &p, &eb), -EINVAL);
}

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/.aws/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static int resolve(const char *json, struct s3_conf *c, struct errbuf *eb)
{
	struct json_opts *o = NULL;
	int err;

	errbuf_clear(eb);
	if (json) {
		err = json_opts_parse(json, &o, eb);
		CHECK_EQ(err, 0);
		if (err)
			return err;
	}
	err = s3_conf_resolve(o, "bkt", c, eb);
	json_opts_free(o);
	return err;
}

static void test_precedence(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct s3_conf c;
	char path[512];

	clear_env();
	snprintf(path, sizeof(path), "%s/.aws", dir);
	CHECK_EQ(mkdir(path, 0700), 0);
	write_file("credentials", "[default]\naws_access_key_id = AKF\n"
		   "aws_secret_access_key = SKF\n"
		   "[p2]\naws_access_key_id = AK2\naws_secret_access_key = SK2\n"
		   "aws_session_token = TK2\n");
	write_file("config", "[default]\nregion = eu-west-3\n"
		   "endpoint_url = http://conf:1/\n"
		   "[profile p2]\nregion = ap-south-1\ns3 =\n"
		   "  endpoint_url = http://p2s3:2\n  addressing_style = virtual\n");
	/* the files alone */
	CHECK_EQ(resolve(NULL, &c, &eb), 0);
	CHECK_STREQ(c.access_key, "AKF");
	CHECK_STREQ(c.region, "eu-west-3");
	CHECK_STREQ(c.base, "http://conf:1/bkt");
	/* env beats the files, AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL */
	setenv("AWS_ACCESS_KEY_ID", "AKE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKE", 1);
	setenv("AWS_ENDPOINT_URL", "http://env:3", 1);
	CHECK_EQ(resolve(NULL, &c, &eb), 0);
	CHECK_STREQ(c.access_key, "AKE");
	CHECK_STREQ(c.base, "http://env:3/bkt");
	setenv("AWS_ENDPOINT_URL_S3", "http://envs3:4", 1);
	CHECK_EQ(resolve(NULL, &c, &eb), 0);
	CHECK_STREQ(c.base, "http://envs3:4/bkt");
	/* options beat the env (s3fs spellings too) */
	CHECK_EQ(resolve("{\"key\":\"AKO\",\"secret\":\"SKO\","
			 "\"client_kwargs\":{\"endpoint_url\":\"http://opt:5\","
			 "\"region_name\":\"sa-east-1\"}}", &c, &eb), 0);
	CHECK_STREQ(c.access_key, "AKO");
	CHECK_STREQ(c.secret, "SKO");
	CHECK_STREQ(c.region, "sa-east-1");
	CHECK_STREQ(c.base, "http://opt:5/bkt");
	CHECK_EQ(resolve("{\"endpoint_url\":\"http://top:6\",\"client_kwargs\":"
			 "{\"endpoint_url\":\"http://opt:5\"}}", &c, &eb), 0);
	CHECK_STREQ(c.base, "http://top:6/bkt");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	CHECK_EQ(resolve(NULL, &c, &eb), 0);
	CHECK_STREQ(c.base, "https://bkt.s3.eu-west-3.amazonaws.com");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_ENDPOINT_URL");

	/* AWS_PROFILE: env credentials still win (botocore), the profile
	 * gives the rest; its s3 block sets endpoint and style */
	setenv("AWS_PROFILE", "p2", 1);
	CHECK_EQ(resolve(NULL, &c, &eb), 0);
	CHECK_STREQ(c.access_key, "AKE");
	CHECK_STREQ(c.token, "");
	CHECK_STREQ(c.region, "ap-south-1");
	CHECK_STREQ(c.base, "http://bkt.p2s3:2");
	CHECK_EQ(resolve("{\"config_kwargs\":{\"s3\":"
			 "{\"addressing_style\":\"path\"}}}", &c, &eb), 0);
	CHECK_STREQ(c.base, "http://p2s3:2/bkt");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	CHECK_EQ(resolve(NULL, &c, &eb), 0);
	CHECK_STREQ(c.access_key, "AK2");
	CHECK_STREQ(c.token, "TK2");
	/* the profile option drops env credentials, as an explicit profile
	 * does in botocore */
	unsetenv("AWS_PROFILE");
	setenv("AWS_ACCESS_KEY_ID", "AKE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKE", 1);
	CHECK_EQ(resolve("{\"profile\":\"p2\"}", &c, &eb), 0);
	CHECK_STREQ(c.access_key, "AK2");
	/* a named profile that is missing: named with both files */
	setenv("AWS_PROFILE", "ghost", 1);
	CHECK_EQ(resolve(NULL, &c, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "profile 'ghost' not found") != NULL);
	CHECK(strstr(eb.msg, "/.aws/credentials") != NULL);
	CHECK(strstr(eb.msg, "/.aws/config") != NULL);
	/* AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE */
	snprintf(path, sizeof(path), "%s/.aws/config", dir);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("AWS_PROFILE", "p2", 1);   /* [profile p2] is no [p2] */
	CHECK_EQ(resolve(NULL, &c, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "/nonexistent/config") != NULL);
	clear_env();
	/* anon needs no credentials at all */
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/cred", 1);
	CHECK_EQ(resolve(NULL, &c, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "no S3 credentials") != NULL);
	CHECK_EQ(resolve("{\"anon\":true}", &c, &eb), 0);
	CHECK(c.anon);
	CHECK_STREQ(c.access_key, "");
	clear_env();
}

static void test_styles(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct s3_conf c;
	struct json_opts *o = NULL;

	clear_env();
	/* /dev/null reads as empty, as in botocore (the e2e tests use it) */
	setenv("AWS_CONFIG_FILE", "/dev/null", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
	CHECK_EQ(json_opts_parse("{\"anon\":true}", &o, &eb), 0);
	CHECK_EQ(s3_conf_resolve(o, "bkt", &c, &eb), 0);
	CHECK_STREQ(c.base, "https://bkt.s3.us-east-1.amazonaws.com");
	CHECK_EQ(s3_conf_resolve(o, "a.b.c", &c, &eb), 0);
	CHECK_STREQ(c.base, "https://s3.us-east-1.amazonaws.com/a.b.c");
	CHECK_EQ(s3_conf_resolve(o, "Upper_Case", &c, &eb), 0);
	CHECK_STREQ(c.base, "https://s3.us-east-1.amazonaws.com/Upper_Case");
	json_opts_free(o);
	CHECK_EQ(json_opts_parse("{\"anon\":true,\"config_kwargs\":{\"s3\":"
				 "{\"addressing_style\":\"virtual\"}}}", &o,
				 &eb), 0);
	CHECK_EQ(s3_conf_resolve(o, "Upper_Case", &c, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "not a DNS name") != NULL);
	json_opts_free(o);
	CHECK_EQ(json_opts_parse("{\"anon\":true,\"config_kwargs\":{\"s3\":"
				 "{\"addressing_style\":\"sideways\"}}}", &o,
				 &eb), 0);
	errbuf_clear(&eb);
	CHECK_EQ(s3_conf_resolve(o, "bkt", &c, &eb), -EINVAL);
	CHECK(strstr(eb.msg, "expected auto, path or virtual") != NULL);
	json_opts_free(o);
	clear_env();
}

static void rm_dir(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/.aws/credentials", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.aws/config", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.aws", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "%s/test_net_s3_conf.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_parse);
	RUN_TEST(test_parse_errors);
	RUN_TEST(test_precedence);
	RUN_TEST(test_styles);
	rm_dir();
	return test_finish();
}
