/* azure_auth: Azure Storage Shared Key signing (HMAC-SHA256 of the
 * string-to-sign with the base64-decoded account key) and the parsing of
 * connection strings. The exact string-to-sign is the one Azurite and
 * Azure accept (shared reference azure_sharedkey_example.py):
 *   VERB \n Content-Encoding \n Content-Language \n Content-Length (empty
 *   for 0) \n Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n
 *   If-Match \n If-None-Match \n If-Unmodified-Since \n Range \n
 *   x-ms-* headers "name:value\n" (lower case, sorted) then
 *   "/" account path, then "\nname:value" per query parameter (decoded
 *   values, names lower case, sorted). */
#ifndef SNAP_AZURE_AUTH_H
#define SNAP_AZURE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"
#include "uri.h"

struct azure_header {
	const char *name;
	const char *value;
};

/* Build the string-to-sign into out (cap bytes). path is the URL path as
 * sent (encoded, e.g. "/devstoreaccount1/c/b"); q holds decoded values.
 * Returns the length or -ENAMETOOLONG. */
int azure_string_to_sign(const char *method, const struct azure_header *h,
			 size_t nh, const char *account, const char *path,
			 const struct uri_query *q, char *out, size_t cap);

/* "SharedKey <account>:<base64 signature>" into out. Returns 0 or -errno. */
int azure_shared_key(const char *account, const uint8_t *key,
		     size_t key_len, const char *string_to_sign, char *out,
		     size_t cap);

/* RFC 1123 date of now for x-ms-date ("Thu, 26 Nov 2026 10:36:25 GMT"). */
void azure_date_now(char out[40]);

/* Parsed connection string; values point into buf. */
struct azure_conn {
	char buf[2048];
	const char *account;
	const char *key;           /* base64 */
	const char *sas;           /* SharedAccessSignature */
	const char *blob_endpoint; /* BlobEndpoint */
	const char *protocol;      /* DefaultEndpointsProtocol */
	const char *suffix;        /* EndpointSuffix */
	int dev;                   /* UseDevelopmentStorage=true */
};

/* Parse "Name=value;..." (values may contain '='). Unknown names are
 * ignored. Returns 0 or -EINVAL (message without any value). */
int azure_conn_parse(const char *s, struct azure_conn *c, struct errbuf *eb);

#endif
