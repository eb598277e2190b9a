/* azure_auth: Shared Key string-to-sign and HMAC; connection strings. */
#include "azure_auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "digest.h"
#include "encode.h"

#include "banned.h"

static const char *hval(const struct azure_header *h, size_t nh,
			const char *name)
{
	size_t i;

	for (i = 0; i < nh; i++)
		if (!strcasecmp(h[i].name, name))
			return h[i].value;
	return "";
}

struct out {
	char *p;
	size_t cap, len;
	int err;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->err || o->len + n >= o->cap) {
		o->err = -ENAMETOOLONG;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_lower(struct out *o, const char *s)
{
	char c;

	for (; *s; s++) {
		c = (char)tolower((unsigned char)*s);
		put(o, &c, 1);
	}
}

int azure_string_to_sign(const char *method, const struct azure_header *h,
			 size_t nh, const char *account, const char *path,
			 const struct uri_query *q, char *out, size_t cap)
{
	static const char *const std[] = {
		"Content-Encoding", "Content-Language", "Content-Length",
		"Content-MD5", "Content-Type", "Date", "If-Modified-Since",
		"If-Match", "If-None-Match", "If-Unmodified-Since", "Range",
	};
	const struct azure_header *xs[32];
	struct uri_query sq;
	struct out o = { out, cap, 0, 0 };
	size_t i, j, nx = 0;
	const char *v;

	if (!cap)
		return -ENAMETOOLONG;
	out[0] = '\0';
	puts_(&o, method);
	for (i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
		v = hval(h, nh, std[i]);
		if (!strcmp(std[i], "Content-Length") && !strcmp(v, "0"))
			v = "";
		puts_(&o, "\n");
		puts_(&o, v);
	}
	puts_(&o, "\n");
	for (i = 0; i < nh && nx < 32; i++)
		if (!strncasecmp(h[i].name, "x-ms-", 5))
			xs[nx++] = &h[i];
	for (i = 1; i < nx; i++)    /* insertion sort, names lower-cased */
		for (j = i; j > 0 && strcasecmp(xs[j - 1]->name,
						xs[j]->name) > 0; j--) {
			const struct azure_header *t = xs[j];

			xs[j] = xs[j - 1];
			xs[j - 1] = t;
		}
	for (i = 0; i < nx; i++) {
		put_lower(&o, xs[i]->name);
		puts_(&o, ":");
		puts_(&o, xs[i]->value);
		puts_(&o, "\n");
	}
	puts_(&o, "/");
	puts_(&o, account);
	puts_(&o, path);
	if (q) {
		sq = *q;
		uri_query_sort(&sq);
		for (i = 0; i < sq.n; i++) {
			puts_(&o, "\n");
			put_lower(&o, sq.name[i]);
			puts_(&o, ":");
			puts_(&o, sq.value[i]);
		}
	}
	return o.err ? o.err : (int)o.len;
}

int azure_shared_key(const char *account, const uint8_t *key,
		     size_t key_len, const char *string_to_sign, char *out,
		     size_t cap)
{
	uint8_t mac[32];
	char b64[48];
	int err, n;

	err = digest_hmac_sha256(key, key_len, string_to_sign,
				 strlen(string_to_sign), mac);
	if (err)
		return err;
	encode_base64(mac, sizeof(mac), b64);
	n = snprintf(out, cap, "SharedKey %s:%s", account, b64);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

void azure_date_now(char out[40])
{
	struct tm tm;
	time_t t = time(NULL);

	gmtime_r(&t, &tm);
	strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int azure_conn_parse(const char *s, struct azure_conn *c, struct errbuf *eb)
{
	char *p, *semi, *eq;
	size_t n = strlen(s);

	memset(c, 0, sizeof(*c));
	if (n >= sizeof(c->buf))
		return errbuf_set(eb, -EINVAL, "Azure connection string too long");
	memcpy(c->buf, s, n + 1);
	for (p = c->buf; p && *p; p = semi) {
		semi = strchr(p, ';');
		if (semi)
			*semi++ = '\0';
		while (*p == ' ')
			p++;
		if (!*p)
			continue;
		eq = strchr(p, '=');
		if (!eq)
			return errbuf_set(eb, -EINVAL, "invalid Azure connection "
					  "string: a part without '='");
		*eq++ = '\0';
		if (!strcasecmp(p, "AccountName"))
			c->account = eq;
		else if (!strcasecmp(p, "AccountKey"))
			c->key = eq;
		else if (!strcasecmp(p, "SharedAccessSignature"))
			c->sas = eq;
		else if (!strcasecmp(p, "BlobEndpoint"))
			c->blob_endpoint = eq;
		else if (!strcasecmp(p, "DefaultEndpointsProtocol"))
			c->protocol = eq;
		else if (!strcasecmp(p, "EndpointSuffix"))
			c->suffix = eq;
		else if (!strcasecmp(p, "UseDevelopmentStorage"))
			c->dev = !strcasecmp(eq, "true");
	}
	return 0;
}
