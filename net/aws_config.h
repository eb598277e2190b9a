/* aws_config: one profile of the AWS shared files as the AWS CLI and
 * botocore read them, for s3.c: ~/.aws/credentials ([name] sections) and
 * ~/.aws/config ([default] or [profile name] sections, nested "s3 ="
 * blocks, [services name] sections). Read once when a store is opened.
 *
 * Format (INI as Python's configparser, which botocore uses): "[section]";
 * "key = value" or "key: value" (keys case-insensitive); lines starting
 * with '#' or ';' are comments; "key =" with an empty value followed by
 * indented "sub = value" lines is a nested block; CRLF line ends are
 * accepted. Lines are bounded (AWS_CONFIG_LINE_MAX) and so is the file
 * (AWS_CONFIG_FILE_MAX): the files are the user's, but a wrong path must
 * not make us read a disk image. */
#ifndef SNAP_AWS_CONFIG_H
#define SNAP_AWS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "errbuf.h"

#define AWS_CONFIG_LINE_MAX 4096
#define AWS_CONFIG_FILE_MAX (1 << 20)
#define AWS_CONFIG_VALUE_MAX 1024

/* What a profile says; "" when it does not say it. */
struct aws_profile {
	bool found;                /* the profile's section exists */
	char access_key[AWS_CONFIG_VALUE_MAX];
	char secret[AWS_CONFIG_VALUE_MAX];
	char token[AWS_CONFIG_VALUE_MAX * 2];
	char region[128];
	char endpoint_url[AWS_CONFIG_VALUE_MAX];     /* profile endpoint_url */
	/* [services NAME] "s3 = endpoint_url", else the profile's own
	 * "s3 = endpoint_url" */
	char s3_endpoint_url[AWS_CONFIG_VALUE_MAX];
	char addressing_style[16];                   /* "s3 = addressing_style" */
	char ignore_endpoints[16];       /* ignore_configured_endpoint_urls */
	char services[128];              /* name of the services section */
};

/* Read profile from text (len bytes) of a credentials file (is_config
 * false: section "[name]") or a config file (is_config true: "[default]",
 * "[profile name]"; also its [services ...] section) into p, adding to
 * what p holds (a key already set is overwritten). file names the file in
 * messages. Returns 0 or -EINVAL naming file and line (never a value),
 * -E2BIG for a line over AWS_CONFIG_LINE_MAX. */
int aws_config_parse(const char *text, size_t len, const char *file,
		     bool is_config, const char *profile,
		     struct aws_profile *p, struct errbuf *eb);

/* The files' paths: AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE (a
 * leading "~/" is $HOME), else $HOME/.aws/credentials and config. ""
 * when there is neither variable nor HOME. */
void aws_config_paths(char *cred, size_t cred_cap, char *conf,
		      size_t conf_cap);

/* Load profile from both files into *p (memset first): credentials file
 * keys win over the config file's. A missing file is no error. Returns 0,
 * or -EINVAL/-E2BIG/-EIO with the file named. */
int aws_config_load(const char *profile, struct aws_profile *p,
		    char *cred_path, size_t cred_cap, char *conf_path,
		    size_t conf_cap, struct errbuf *eb);

#endif
