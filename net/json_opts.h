/* json_opts: the storage-options JSON of the CLI (--file/heap/snap
 * storage options), an object of string values such as
 * {"endpoint_url": "http://127.0.0.1:9000", "key": "...", "secret": "..."}.
 * A small bounded parser of our own: at most JSON_OPTS_MAX_KEYS members,
 * JSON_OPTS_MAX_LEN bytes of input; numbers, true and false are kept as
 * their text, null means absent. Nested objects (s3fs's client_kwargs,
 * config_kwargs) are flattened into dotted keys, up to
 * JSON_OPTS_MAX_DEPTH levels: {"a": {"b": "c"}} holds "a.b" = "c".
 * Arrays are rejected. */
#ifndef SNAP_JSON_OPTS_H
#define SNAP_JSON_OPTS_H

#include <stddef.h>

#include "errbuf.h"

#define JSON_OPTS_MAX_KEYS 64
#define JSON_OPTS_MAX_LEN 65536
#define JSON_OPTS_MAX_DEPTH 4

struct json_opts;

/* Parse text (NUL-terminated). Returns 0 or -EINVAL (message with the
 * byte offset; values are never quoted in messages, they may be secrets),
 * -ENOMEM, -E2BIG (too long or too many keys). */
int json_opts_parse(const char *text, struct json_opts **out,
		    struct errbuf *eb);
void json_opts_free(struct json_opts *o);

/* Value of key, or NULL. Valid until json_opts_free. Duplicate keys: the
 * last one wins. */
const char *json_opts_get(const struct json_opts *o, const char *key);

/* Number of members and the i-th key (for rejecting unknown keys). */
size_t json_opts_count(const struct json_opts *o);
const char *json_opts_key(const struct json_opts *o, size_t i);

#endif
