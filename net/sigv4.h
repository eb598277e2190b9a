/* sigv4: AWS Signature Version 4 of one request attempt, in the
 * Authorization header (the S3 backend's requests).
 *
 * Signed here, not by libcurl's CURLOPT_AWS_SIGV4: libcurl 7.88 derives
 * the signing key anew for every request and builds its strings with
 * many small allocations, about 40 us of CPU per request on this
 * machine (bench/bench_curlput.c: 90 us per small PUT unsigned, 130 us
 * signed), more than the rest of this engine's work per small object.
 * Here the signing key is derived once a day, and an attempt costs one
 * SHA-256 of its canonical request and one HMAC.
 *
 * What is signed, as libcurl signed it (object-stores.md, section 6):
 * the method, the URL's path and query exactly as written (s3.c builds
 * them canonical: keys encoded per RFC 3986, query parameters sorted,
 * values fully encoded), every header of the request that has a value
 * (names lowercased, values trimmed, inner runs of blanks made one), the
 * Host header (sent by us, so that what is signed is what is sent) and
 * x-amz-date; the payload hash is the request's x-amz-content-sha256. */
#ifndef SNAP_SIGV4_H
#define SNAP_SIGV4_H

#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

struct sigv4 {
	const char *access_key;    /* borrowed */
	const char *secret;        /* borrowed */
	char region[64];
	char service[16];
	/* the signing key of key_date (YYYYMMDD): derived by the first
	 * attempt of a day. Touched only by the thread that signs (the
	 * network thread). */
	char key_date[9];
	uint8_t key[32];
};

/* -EINVAL when region or service does not fit. */
int sigv4_init(struct sigv4 *sv, const char *access_key, const char *secret,
	       const char *region, const char *service);

/* Sign an attempt of `method url` with its headers (the request's own,
 * "Name: value"; x-amz-content-sha256 must be among them) at time now.
 * *out receives the Host, x-amz-date and Authorization headers as one
 * allocation (release with free()) whose list runs on into headers:
 * pass *out as CURLOPT_HTTPHEADER. 0, -EINVAL (a URL with no host, no
 * x-amz-content-sha256 header, a header name too long), -ENOMEM or -EIO
 * (OpenSSL). */
int sigv4_sign(struct sigv4 *sv, const char *method, const char *url,
	       struct curl_slist *headers, time_t now,
	       struct curl_slist **out);

#endif
