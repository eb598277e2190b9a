/* s3_conf: where an S3 store's endpoint, region, credentials and
 * addressing style come from, resolved like the AWS CLI / botocore and
 * s3fs: storage options > environment > shared files (aws_config.h).
 *
 *   endpoint: endpoint_url, client_kwargs.endpoint_url (options);
 *             AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL (env; both skipped,
 *             like the files, when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS or
 *             the profile's ignore_configured_endpoint_urls is true);
 *             [services NAME] s3 endpoint_url, the profile's "s3 ="
 *             endpoint_url, the profile's endpoint_url; else AWS.
 *   credentials: key/secret/token, username/password,
 *             client_kwargs.aws_access_key_id/_secret_access_key/
 *             _session_token (options); AWS_ACCESS_KEY_ID,
 *             AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (env, not when the
 *             option profile names a profile: botocore drops the env
 *             provider for an explicit profile); the profile's
 *             aws_access_key_id, aws_secret_access_key, aws_session_token
 *             (credentials file over config file). anon: none, unsigned.
 *   profile:  option profile, AWS_PROFILE, AWS_DEFAULT_PROFILE, "default";
 *             a named profile that neither file has is an error.
 *   region:   region, client_kwargs.region_name, config_kwargs.region_name;
 *             AWS_REGION, AWS_DEFAULT_REGION; the profile's region;
 *             us-east-1.
 *   addressing: config_kwargs.s3.addressing_style; the profile's "s3 ="
 *             addressing_style; auto. auto = virtual-hosted on AWS for
 *             DNS-compatible names without dots, path-style otherwise and
 *             on custom endpoints; virtual puts the bucket in front of the
 *             endpoint's host. */
#ifndef SNAP_S3_CONF_H
#define SNAP_S3_CONF_H

#include <stdbool.h>

#include "aws_config.h"
#include "errbuf.h"
#include "json_opts.h"

/* Storage option keys s3:// understands (NULL-terminated). */
extern const char *const s3_conf_option_keys[];

struct s3_conf {
	char base[600];            /* URL of the bucket, no trailing slash */
	/* the service without the bucket: the endpoint URL, "" for AWS's
	 * own (in region) */
	char service[600];
	char region[64];
	bool anon;                 /* unsigned requests */
	char access_key[AWS_CONFIG_VALUE_MAX];
	char secret[AWS_CONFIG_VALUE_MAX];
	char token[AWS_CONFIG_VALUE_MAX * 2];   /* "" none */
};

/* Resolve bucket's settings from opts (may be NULL), the environment and
 * the shared files into *c. Returns 0 or -EINVAL (no credentials, bad
 * endpoint/region/style, missing profile: the message names the
 * profile and files, never a secret), -E2BIG, -ENOMEM, -errno of a
 * file read. */
int s3_conf_resolve(const struct json_opts *opts, const char *bucket,
		    struct s3_conf *c, struct errbuf *eb);

#endif
