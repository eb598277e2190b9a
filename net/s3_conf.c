/* s3_conf: the precedence rules of s3_conf.h, applied in one pass once a
 * store is opened (no request is made). */
#include "s3_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "objstore_impl.h"

#include "banned.h"

const char *const s3_conf_option_keys[] = {
	"endpoint_url", "key", "secret", "token", "region", "anon", "profile",
	"username", "password",
	"client_kwargs.endpoint_url", "client_kwargs.region_name",
	"client_kwargs.aws_access_key_id",
	"client_kwargs.aws_secret_access_key",
	"client_kwargs.aws_session_token",
	"config_kwargs.region_name", "config_kwargs.s3.addressing_style",
	NULL
};

enum s3_style { S3_STYLE_AUTO, S3_STYLE_PATH, S3_STYLE_VIRTUAL };

/* first non-empty storage option of a NULL-terminated list */
static const char *opt(const struct json_opts *o, const char *const *keys)
{
	const char *v;

	for (; *keys; keys++) {
		v = json_opts_get(o, *keys);
		if (v && *v)
			return v;
	}
	return NULL;
}

static const char *nz(const char *s)
{
	return s && *s ? s : NULL;
}

/* true/false as JSON gives them, or as strings; -EINVAL otherwise */
static int parse_bool(const char *v, const char *what, bool *out,
		      struct errbuf *eb)
{
	if (!v || !strcasecmp(v, "false") || !strcmp(v, "0")) {
		*out = false;
		return 0;
	}
	if (!strcasecmp(v, "true") || !strcmp(v, "1")) {
		*out = true;
		return 0;
	}
	return errbuf_set(eb, -EINVAL, "invalid %s: expected true or false",
			  what);
}

/* S3 bucket naming rules for DNS: 3-63 of [a-z0-9.-], no ".." */
static bool dns_compatible(const char *b)
{
	size_t n = strlen(b), i;

	if (n < 3 || n > 63 || b[0] == '-' || b[0] == '.' ||
	    b[n - 1] == '-' || b[n - 1] == '.' || strstr(b, ".."))
		return false;
	for (i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') ||
		      (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
		      b[i] == '.'))
			return false;
	return true;
}

static int resolve_style(const struct json_opts *o,
			 const struct aws_profile *ap, enum s3_style *out,
			 struct errbuf *eb)
{
	static const char *const k[] = {
		"config_kwargs.s3.addressing_style", NULL
	};
	const char *v = opt(o, k);
	const char *from = "storage option config_kwargs.s3.addressing_style";

	if (!v) {
		v = nz(ap->addressing_style);
		from = "s3 addressing_style of the AWS profile";
	}
	if (!v || !strcmp(v, "auto"))
		*out = S3_STYLE_AUTO;
	else if (!strcmp(v, "path"))
		*out = S3_STYLE_PATH;
	else if (!strcmp(v, "virtual"))
		*out = S3_STYLE_VIRTUAL;
	else
		return errbuf_set(eb, -EINVAL, "invalid %s '%.32s': expected "
				  "auto, path or virtual", from, v);
	return 0;
}

static int build_base(struct s3_conf *c, const char *endpoint,
		      enum s3_style style, const char *bucket,
		      struct errbuf *eb)
{
	const char *host;
	int n;

	if (style == S3_STYLE_VIRTUAL && !dns_compatible(bucket))
		return errbuf_set(eb, -EINVAL, "S3 bucket '%s' cannot be "
				  "addressed virtual-hosted style: not a DNS "
				  "name", bucket);
	if (endpoint && style == S3_STYLE_VIRTUAL) {
		host = strstr(endpoint, "://") + 3;
		n = snprintf(c->base, sizeof(c->base), "%.*s%s.%s",
			     (int)(host - endpoint), endpoint, bucket, host);
	} else if (endpoint) {
		n = snprintf(c->base, sizeof(c->base), "%s/%s", endpoint,
			     bucket);
	} else if (style == S3_STYLE_PATH ||
		   (style == S3_STYLE_AUTO && (!dns_compatible(bucket) ||
					       strchr(bucket, '.')))) {
		/* dots break the TLS name of virtual hosts */
		n = snprintf(c->base, sizeof(c->base),
			     "https://s3.%s.amazonaws.com/%s", c->region, bucket);
	} else {
		n = snprintf(c->base, sizeof(c->base),
			     "https://%s.s3.%s.amazonaws.com", bucket, c->region);
	}
	if (n < 0 || (size_t)n >= sizeof(c->base))
		return errbuf_set(eb, -EINVAL, "S3 endpoint URL too long");
	snprintf(c->service, sizeof(c->service), "%s", endpoint ? endpoint : "");
	return 0;
}

static int copy(char *dst, size_t cap, const char *v, const char *what,
		struct errbuf *eb)
{
	size_t n = v ? strlen(v) : 0;

	if (n >= cap)
		return errbuf_set(eb, -EINVAL, "S3 %s longer than %zu bytes",
				  what, cap - 1);
	memcpy(dst, v ? v : "", n);
	dst[n] = '\0';
	return 0;
}

/* the endpoint, without trailing slashes, into buf */
static int resolve_endpoint(const struct json_opts *o,
			    const struct aws_profile *ap, char *buf,
			    size_t cap, const char **out, struct errbuf *eb)
{
	static const char *const k[] = {
		"endpoint_url", "client_kwargs.endpoint_url", NULL
	};
	const char *ep = opt(o, k), *ign;
	bool ignore = false;
	size_t n;
	int err;

	ign = objstore_env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	if (!ign)
		ign = nz(ap->ignore_endpoints);
	err = parse_bool(ign, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", &ignore,
			 eb);
	if (err)
		return err;
	if (!ep && !ignore) {
		ep = objstore_env("AWS_ENDPOINT_URL_S3");
		if (!ep)
			ep = objstore_env("AWS_ENDPOINT_URL");
		if (!ep)
			ep = nz(ap->s3_endpoint_url);
		if (!ep)
			ep = nz(ap->endpoint_url);
	}
	*out = NULL;
	if (!ep)
		return 0;
	if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8))
		return errbuf_set(eb, -EINVAL, "invalid S3 endpoint URL '%s': "
				  "expected http:// or https://", ep);
	n = strlen(ep);
	while (n && ep[n - 1] == '/')
		n--;
	if (n >= cap)
		return errbuf_set(eb, -EINVAL, "S3 endpoint URL too long");
	memcpy(buf, ep, n);
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* key, secret and token: options, then the environment, then the profile */
static int resolve_creds(const struct json_opts *o, bool explicit_profile,
			 const char *profile, const struct aws_profile *ap,
			 const char *cred_path, struct s3_conf *c,
			 struct errbuf *eb)
{
	static const char *const kk[] = {
		"key", "username", "client_kwargs.aws_access_key_id", NULL
	};
	static const char *const ks[] = {
		"secret", "password", "client_kwargs.aws_secret_access_key",
		NULL
	};
	static const char *const kt[] = {
		"token", "client_kwargs.aws_session_token", NULL
	};
	const char *key = opt(o, kk), *secret = opt(o, ks), *token = opt(o, kt);
	int err;

	if (!explicit_profile) {
		if (!key)
			key = objstore_env("AWS_ACCESS_KEY_ID");
		if (!secret)
			secret = objstore_env("AWS_SECRET_ACCESS_KEY");
		if (!token && (key || secret))
			token = objstore_env("AWS_SESSION_TOKEN");
	}
	if (!key && !secret) {
		key = nz(ap->access_key);
		secret = nz(ap->secret);
		token = nz(ap->token);
		if (!key != !secret)
			return errbuf_set(eb, -EINVAL, "AWS profile '%s' has "
					  "%s but no %s", profile,
					  key ? "aws_access_key_id" :
					  "aws_secret_access_key",
					  key ? "aws_secret_access_key" :
					  "aws_access_key_id");
	}
	if (!key || !secret)
		return errbuf_set(eb, -EINVAL, "no S3 credentials: set "
				  "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
				  "the storage options key and secret (or anon), "
				  "or aws_access_key_id and aws_secret_access_key "
				  "in profile '%s' of '%s'", profile,
				  cred_path[0] ? cred_path : "~/.aws/credentials");
	err = copy(c->access_key, sizeof(c->access_key), key, "access key",
		   eb);
	if (!err)
		err = copy(c->secret, sizeof(c->secret), secret, "secret", eb);
	if (!err)
		err = copy(c->token, sizeof(c->token), token, "session token",
			   eb);
	return err;
}

int s3_conf_resolve(const struct json_opts *o, const char *bucket,
		    struct s3_conf *c, struct errbuf *eb)
{
	static const char *const kp[] = { "profile", NULL };
	static const char *const kr[] = {
		"region", "client_kwargs.region_name",
		"config_kwargs.region_name", NULL
	};
	static const char *const ka[] = { "anon", NULL };
	char cred_path[1024], conf_path[1024], epbuf[600];
	const char *profile = opt(o, kp), *region, *ep;
	bool explicit_profile = profile != NULL, named;
	struct aws_profile *ap;
	enum s3_style style = S3_STYLE_AUTO;
	int err;

	memset(c, 0, sizeof(*c));
	ap = calloc(1, sizeof(*ap));
	if (!ap)
		return -ENOMEM;
	if (!profile)
		profile = objstore_env("AWS_PROFILE");
	if (!profile)
		profile = objstore_env("AWS_DEFAULT_PROFILE");
	named = profile != NULL;
	if (!profile)
		profile = "default";
	err = aws_config_load(profile, ap, cred_path, sizeof(cred_path),
			      conf_path, sizeof(conf_path), eb);
	if (err)
		goto out;
	if (named && !ap->found) {
		err = errbuf_set(eb, -EINVAL, "AWS profile '%s' not found in "
				 "'%s' or '%s'", profile,
				 cred_path[0] ? cred_path : "~/.aws/credentials",
				 conf_path[0] ? conf_path : "~/.aws/config");
		goto out;
	}
	err = parse_bool(opt(o, ka), "storage option anon", &c->anon, eb);
	if (!err && !c->anon)
		err = resolve_creds(o, explicit_profile, profile, ap, cred_path,
				    c, eb);
	if (err)
		goto out;
	region = opt(o, kr);
	if (!region)
		region = objstore_env("AWS_REGION");
	if (!region)
		region = objstore_env("AWS_DEFAULT_REGION");
	if (!region)
		region = nz(ap->region);
	if (!region)
		region = "us-east-1";
	if (strlen(region) >= sizeof(c->region) || strchr(region, ':') ||
	    strchr(region, '/')) {
		err = errbuf_set(eb, -EINVAL, "invalid S3 region");
		goto out;
	}
	memcpy(c->region, region, strlen(region) + 1);
	err = resolve_endpoint(o, ap, epbuf, sizeof(epbuf), &ep, eb);
	if (!err)
		err = resolve_style(o, ap, &style, eb);
	if (!err)
		err = build_base(c, ep, style, bucket, eb);
out:
	memset(ap, 0, sizeof(*ap));
	free(ap);
	if (err)
		memset(c, 0, sizeof(*c));
	return err;
}
