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

int sigv4_sign(struct sigv4 *sv, const char *method, const char *url,
	       struct curl_slist *headers, time_t now,
	       struct curl_slist **out)
{
	struct hdr h[SIGV4_MAX_HEADERS + 2], tmp;
	const char *auth, *path, *query, *payload = NULL;
	size_t auth_len, path_len, payload_len = 0, nh = 0, i, j;
	size_t names_len = 0, len;
	char amzdate[17], date[9], scope[128], hash_hex[65], sig_hex[65];
	char sts[256 + sizeof(scope)];
	uint8_t hash[32], sig[32];
	struct signed_lines *sl;
	struct curl_slist *l;
	EVP_MD_CTX *ctx;
	struct tm tm;
	char *t, *end;
	int err;

	*out = NULL;
	err = split_url(url, &auth, &auth_len, &path, &path_len, &query);
	if (err)
		return err;
	gmtime_r(&now, &tm);
	strftime(amzdate, sizeof(amzdate), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, amzdate, 8);
	date[8] = '\0';

	for (l = headers; l; l = l->next) {
		if (nh == SIGV4_MAX_HEADERS)
			return -EINVAL;
		err = parse_header(l->data, &h[nh]);
		if (err < 0)
			return err;
		if (!err)
			continue;
		/* ours to write */
		if (!strcmp(h[nh].name, "host") ||
		    !strcmp(h[nh].name, "x-amz-date") ||
		    !strcmp(h[nh].name, "authorization"))
			return -EINVAL;
		if (!strcmp(h[nh].name, "x-amz-content-sha256")) {
			payload = h[nh].value;
			payload_len = h[nh].value_len;
		}
		nh++;
	}
	if (!payload)
		return -EINVAL;
	snprintf(h[nh].name, sizeof(h[nh].name), "host");
	h[nh].value = auth;
	h[nh++].value_len = auth_len;
	snprintf(h[nh].name, sizeof(h[nh].name), "x-amz-date");
	h[nh].value = amzdate;
	h[nh++].value_len = strlen(amzdate);
	/* a handful of headers: insertion sort */
	for (i = 1; i < nh; i++) {
		tmp = h[i];
		for (j = i; j && strcmp(h[j - 1].name, tmp.name) > 0; j--)
			h[j] = h[j - 1];
		h[j] = tmp;
	}
	for (i = 0; i < nh; i++) {
		if (i && !strcmp(h[i - 1].name, h[i].name))
			return -EINVAL;   /* one value per name here */
		names_len += strlen(h[i].name) + 1;
	}

	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	err = -EIO;
	/* the canonical request, straight into its hash */
	if (!digest_init(ctx) || !feed_str(ctx, method) || !feed(ctx, "\n", 1) ||
	    !feed(ctx, path, path_len) || !feed(ctx, "\n", 1) ||
	    !feed_str(ctx, query) || !feed(ctx, "\n", 1))
		goto out;
	for (i = 0; i < nh; i++)
		if (!feed_str(ctx, h[i].name) || !feed(ctx, ":", 1) ||
		    !feed_value(ctx, h[i].value, h[i].value_len) ||
		    !feed(ctx, "\n", 1))
			goto out;
	if (!feed(ctx, "\n", 1))
		goto out;
	for (i = 0; i < nh; i++)
		if ((i && !feed(ctx, ";", 1)) || !feed_str(ctx, h[i].name))
			goto out;
	if (!feed(ctx, "\n", 1) || !feed(ctx, payload, payload_len) ||
	    !EVP_DigestFinal_ex(ctx, hash, NULL))
		goto out;
	encode_hex(hash, 32, hash_hex);

	len = (size_t)snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request",
			       date, sv->region, sv->service);
	if (len >= sizeof(scope))
		goto out;
	len = (size_t)snprintf(sts, sizeof(sts), SIGV4_ALGO "\n%s\n%s\n%s",
			       amzdate, scope, hash_hex);
	if (len >= sizeof(sts) || !signing_key(sv, date) ||
	    digest_hmac_sha256(sv->key, 32, sts, len, sig))
		goto out;
	encode_hex(sig, 32, sig_hex);

	len = sizeof(*sl) + sizeof("Host: ") + auth_len +
	      sizeof("x-amz-date: ") + strlen(amzdate) +
	      sizeof("Authorization: " SIGV4_ALGO " Credential=/") +
	      strlen(sv->access_key) + strlen(scope) +
	      sizeof(", SignedHeaders=") + names_len +
	      sizeof(", Signature=") + 64 + 1;
	sl = malloc(len);
	if (!sl) {
		err = -ENOMEM;
		goto out;
	}
	t = sl->text;
	end = (char *)sl + len;
	sl->node[0].data = t;
	t += snprintf(t, (size_t)(end - t), "Host: %.*s", (int)auth_len,
		      auth) + 1;
	sl->node[1].data = t;
	t += snprintf(t, (size_t)(end - t), "x-amz-date: %s", amzdate) + 1;
	sl->node[2].data = t;
	t += snprintf(t, (size_t)(end - t), "Authorization: " SIGV4_ALGO
		      " Credential=%s/%s, SignedHeaders=", sv->access_key,
		      scope);
	for (i = 0; i < nh; i++)
		t += snprintf(t, (size_t)(end - t), "%s%s", i ? ";" : "",
			      h[i].name);
	snprintf(t, (size_t)(end - t), ", Signature=%s", sig_hex);
	sl->node[0].next = &sl->node[1];
	sl->node[1].next = &sl->node[2];
	sl->node[2].next = headers;
	*out = &sl->node[0];
	err = 0;
out:
	EVP_MD_CTX_free(ctx);
	return err;
}
