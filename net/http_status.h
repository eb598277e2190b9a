/* http_status: the one place where libcurl results, HTTP statuses and
 * object-store error codes become -errno (house style H7), together with
 * whether trying the same request again can help. */
#ifndef SNAP_HTTP_STATUS_H
#define SNAP_HTTP_STATUS_H

#include <stdbool.h>

#include <curl/curl.h>

/* Map one finished transfer to 0 (2xx, or 3xx when asked for) or -errno.
 * store_code is the service's error code ("SlowDown", "Md5Mismatch",
 * "BadDigest", ...) or NULL/"" when unknown. *retryable (may be NULL) is
 * set for transient failures: connection refused/reset, timeouts, 5xx,
 * 408, 429 and throttling codes. */
int http_status_errno(CURLcode cc, long status, const char *store_code,
		      bool *retryable);

/* Short text for an HTTP status ("Not Found"), "" when unknown. */
const char *http_status_reason(long status);

#endif
