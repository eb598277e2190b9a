/* sigv4: AWS Signature Version 4 of one request attempt (sigv4.h). */
#include "sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "digest.h"
#include "encode.h"

#include "banned.h"

#define SIGV4_MAX_HEADERS 32
#define SIGV4_NAME_MAX 64
#define SIGV4_ALGO "AWS4-HMAC-SHA256"

static bool digest_init(EVP_MD_CTX *ctx)
{
	const EVP_MD *md = digest_sha256_md();

	return md && EVP_DigestInit_ex2(ctx, md, NULL);
}

static bool feed(EVP_MD_CTX *ctx, const void *p, size_t n)
{
	return EVP_DigestUpdate(ctx, p, n) == 1;
}

static bool feed_str(EVP_MD_CTX *ctx, const char *s)
{
	return feed(ctx, s, strlen(s));
}

int sigv4_init(struct sigv4 *sv, const char *access_key, const char *secret,
	       const char *region, const char *service)
{
	memset(sv, 0, sizeof(*sv));
	if (strlen(region) >= sizeof(sv->region) ||
	    strlen(service) >= sizeof(sv->service))
		return -EINVAL;
	sv->access_key = access_key ? access_key : "";
	sv->secret = secret ? secret : "";
	snprintf(sv->region, sizeof(sv->region), "%s", region);
	snprintf(sv->service, sizeof(sv->service), "%s", service);
	return 0;
}

/* The signing key of date (YYYYMMDD), derived once for the day. */
static bool signing_key(struct sigv4 *sv, const char *date)
{
	uint8_t k[32];
	size_t slen = strlen(sv->secret);
	char *first;
	bool ok;

	if (!strcmp(sv->key_date, date))
		return true;
	first = malloc(slen + 5);
	if (!first)
		return false;
	memcpy(first, "AWS4", 4);
	memcpy(first + 4, sv->secret, slen + 1);
	ok = !digest_hmac_sha256(first, slen + 4, date, 8, k) &&
	     !digest_hmac_sha256(k, 32, sv->region, strlen(sv->region), k) &&
	     !digest_hmac_sha256(k, 32, sv->service, strlen(sv->service),
				 k) &&
	     !digest_hmac_sha256(k, 32, "aws4_request", 12, sv->key);
	OPENSSL_cleanse(first, slen + 4);
	OPENSSL_cleanse(k, sizeof(k));
	free(first);
	if (ok)
		memcpy(sv->key_date, date, 9);
	else
		sv->key_date[0] = '\0';
	return ok;
}

struct hdr {
	char name[SIGV4_NAME_MAX];   /* lowercased */
	const char *value;           /* trimmed; not NUL-terminated */
	size_t value_len;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* "Name: value" -> h. 1 taken, 0 skipped (curl's "Name:" removes a header
 * it would send: nothing is sent, nothing is signed), -EINVAL. */
static int parse_header(const char *line, struct hdr *h)
{
	const char *colon = strchr(line, ':'), *semi = strchr(line, ';');
	const char *end, *v;
	size_t n, i;

	/* curl's "Name;" sends Name with an empty value */
	if (semi && (!colon || semi < colon) && !semi[1]) {
		colon = semi;
	} else if (!colon) {
		return -EINVAL;
	}
	n = (size_t)(colon - line);
	while (n && is_blank(line[n - 1]))
		n--;
	if (!n || n >= sizeof(h->name))
		return -EINVAL;
	for (i = 0; i < n; i++)
		h->name[i] = (char)tolower((unsigned char)line[i]);
	h->name[n] = '\0';
	v = colon + 1;
	while (is_blank(*v))
		v++;
	end = v + strlen(v);
	while (end > v && is_blank(end[-1]))
		end--;
	if (end == v && *colon == ':')
		return 0;
	h->value = v;
	h->value_len = (size_t)(end - v);
	return 1;
}

/* A value with its inner runs of blanks made one space. */
static bool feed_value(EVP_MD_CTX *ctx, const char *v, size_t n)
{
	size_t i = 0, start;

	while (i < n) {
		start = i;
		while (i < n && !is_blank(v[i]))
			i++;
		if (!feed(ctx, v + start, i - start))
			return false;
		if (i < n) {
			if (!feed(ctx, " ", 1))
				return false;
			while (i < n && is_blank(v[i]))
				i++;
		}
	}
	return true;
}

/* url's authority, path ("/" when none) and query. */
static int split_url(const char *url, const char **auth, size_t *auth_len,
		     const char **path, size_t *path_len, const char **query)
{
	const char *p = strstr(url, "://"), *a, *q;

	if (!p)
		return -EINVAL;
	a = p + 3;
	p = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t)(p - a)) || p == a)
		return -EINVAL;
	*auth = a;
	*auth_len = (size_t)(p - a);
	q = strchr(p, '?');
	if (!q)
		q = p + strlen(p);
	if (q == p) {
		*path = "/";
		*path_len = 1;
	} else {
		*path = p;
		*path_len = (size_t)(q - p);
	}
	*query = *q ? q + 1 : "";
	return 0;
}

/* One allocation: three list nodes, then their lines. */
struct signed_lines {
	struct curl_slist node[3];
	char text[];
};

/* A request as it is signed: its URL's parts, its headers (the caller's
 * and ours) sorted by name, and the dates and scope of the signature. */
struct sign_req {
	const char *auth, *path, *query, *payload;
	size_t auth_len, path_len, payload_len;
	struct hdr h[SIGV4_MAX_HEADERS + 2];
	size_t nh;
	size_t names_len;     /* "a;b;c" with its NUL */
	char amzdate[17], date[9], scope[128];
};

/* The caller's headers, then host and x-amz-date, sorted by name. The
 * payload hash must be given (x-amz-content-sha256); host, x-amz-date
 * and authorization are ours; a name twice is refused. */
static int collect_headers(struct sign_req *q, struct curl_slist *headers)
{
	struct curl_slist *l;
	struct hdr tmp;
	size_t i, j;
	int err;

	for (l = headers; l; l = l->next) {
		if (q->nh == SIGV4_MAX_HEADERS)
			return -EINVAL;
		err = parse_header(l->data, &q->h[q->nh]);
		if (err < 0)
			return err;
		if (!err)
			continue;
		/* ours to write */
		if (!strcmp(q->h[q->nh].name, "host") ||
		    !strcmp(q->h[q->nh].name, "x-amz-date") ||
		    !strcmp(q->h[q->nh].name, "authorization"))
			return -EINVAL;
		if (!strcmp(q->h[q->nh].name, "x-amz-content-sha256")) {
			q->payload = q->h[q->nh].value;
			q->payload_len = q->h[q->nh].value_len;
		}
		q->nh++;
	}
	if (!q->payload)
		return -EINVAL;
	snprintf(q->h[q->nh].name, sizeof(q->h[q->nh].name), "host");
	q->h[q->nh].value = q->auth;
	q->h[q->nh++].value_len = q->auth_len;
	snprintf(q->h[q->nh].name, sizeof(q->h[q->nh].name), "x-amz-date");
	q->h[q->nh].value = q->amzdate;
	q->h[q->nh++].value_len = strlen(q->amzdate);
	/* a handful of headers: insertion sort */
	for (i = 1; i < q->nh; i++) {
		tmp = q->h[i];
		for (j = i; j && strcmp(q->h[j - 1].name, tmp.name) > 0; j--)
			q->h[j] = q->h[j - 1];
		q->h[j] = tmp;
	}
	for (i = 0; i < q->nh; i++) {
		if (i && !strcmp(q->h[i - 1].name, q->h[i].name))
			return -EINVAL;   /* one value per name here */
		q->names_len += strlen(q->h[i].name) + 1;
	}
	return 0;
}

/* The canonical request, straight into its SHA-256: hex into out. */
static int canonical_hash(const struct sign_req *q, const char *method,
			  char out[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t hash[32];
	int err = -EIO;
	size_t i;

	if (!ctx)
		return -ENOMEM;
	if (!digest_init(ctx) || !feed_str(ctx, method) ||
	    !feed(ctx, "\n", 1) ||
	    !feed(ctx, q->path, q->path_len) || !feed(ctx, "\n", 1) ||
	    !feed_str(ctx, q->query) || !feed(ctx, "\n", 1))
		goto out;
	for (i = 0; i < q->nh; i++)
		if (!feed_str(ctx, q->h[i].name) || !feed(ctx, ":", 1) ||
		    !feed_value(ctx, q->h[i].value, q->h[i].value_len) ||
		    !feed(ctx, "\n", 1))
			goto out;
	if (!feed(ctx, "\n", 1))
		goto out;
	for (i = 0; i < q->nh; i++)
		if ((i && !feed(ctx, ";", 1)) || !feed_str(ctx, q->h[i].name))
			goto out;
	if (!feed(ctx, "\n", 1) || !feed(ctx, q->payload, q->payload_len) ||
	    !EVP_DigestFinal_ex(ctx, hash, NULL))
		goto out;
	encode_hex(hash, 32, out);
	err = 0;
out:
	EVP_MD_CTX_free(ctx);
	return err;
}

/* Host, x-amz-date and Authorization, in one allocation, put before
 * headers: *out. */
static int signed_lines_new(const struct sigv4 *sv, const struct sign_req *q,
			    const char *sig_hex, struct curl_slist *headers,
			    struct curl_slist **out)
{
	struct signed_lines *sl;
	size_t len, i;
	char *t, *end;

	len = sizeof(*sl) + sizeof("Host: ") + q->auth_len +
	      sizeof("x-amz-date: ") + strlen(q->amzdate) +
	      sizeof("Authorization: " SIGV4_ALGO " Credential=/") +
	      strlen(sv->access_key) + strlen(q->scope) +
	      sizeof(", SignedHeaders=") + q->names_len +
	      sizeof(", Signature=") + 64 + 1;
	sl = malloc(len);
	if (!sl)
		return -ENOMEM;
	t = sl->text;
	end = (char *)sl + len;
	sl->node[0].data = t;
	t += snprintf(t, (size_t)(end - t), "Host: %.*s", (int)q->auth_len,
		      q->auth) + 1;
	sl->node[1].data = t;
	t += snprintf(t, (size_t)(end - t), "x-amz-date: %s", q->amzdate) + 1;
	sl->node[2].data = t;
	t += snprintf(t, (size_t)(end - t), "Authorization: " SIGV4_ALGO
		      " Credential=%s/%s, SignedHeaders=", sv->access_key,
		      q->scope);
	for (i = 0; i < q->nh; i++)
		t += snprintf(t, (size_t)(end - t), "%s%s", i ? ";" : "",
			      q->h[i].name);
	snprintf(t, (size_t)(end - t), ", Signature=%s", sig_hex);
	sl->node[0].next = &sl->node[1];
	sl->node[1].next = &sl->node[2];
	sl->node[2].next = headers;
	*out = &sl->node[0];
	return 0;
}

int sigv4_sign(struct sigv4 *sv, const char *method, const char *url,
	       struct curl_slist *headers, time_t now,
	       struct curl_slist **out)
{
	struct sign_req q;
	char hash_hex[65], sig_hex[65];
	char sts[256 + sizeof(q.scope)];
	uint8_t sig[32];
	struct tm tm;
	size_t len;
	int err;

	*out = NULL;
	memset(&q, 0, sizeof(q));
	err = split_url(url, &q.auth, &q.auth_len, &q.path, &q.path_len,
			&q.query);
	if (err)
		return err;
	gmtime_r(&now, &tm);
	strftime(q.amzdate, sizeof(q.amzdate), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(q.date, q.amzdate, 8);
	q.date[8] = '\0';
	err = collect_headers(&q, headers);
	if (err)
		return err;
	err = canonical_hash(&q, method, hash_hex);
	if (err)
		return err;
	len = (size_t)snprintf(q.scope, sizeof(q.scope),
			       "%s/%s/%s/aws4_request", q.date, sv->region,
			       sv->service);
	if (len >= sizeof(q.scope))
		return -EIO;
	len = (size_t)snprintf(sts, sizeof(sts), SIGV4_ALGO "\n%s\n%s\n%s",
			       q.amzdate, q.scope, hash_hex);
	if (len >= sizeof(sts) || !signing_key(sv, q.date) ||
	    digest_hmac_sha256(sv->key, 32, sts, len, sig))
		return -EIO;
	encode_hex(sig, 32, sig_hex);
	return signed_lines_new(sv, &q, sig_hex, headers, out);
}
