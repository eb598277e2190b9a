/* bench_curlput: the client CPU a bare libcurl multi loop spends per small
 * PUT, the floor under the network stage's own cost (issue 12's "client
 * CPU per small object"; README: "Object storage").
 *
 *   bench_curlput [-n count] [-c concurrency] [-s size]
 *                 [-k key:secret | -K key:secret] ENDPOINT BUCKET
 *
 * PUTs `count` objects of `size` bytes (one buffer, its Content-MD5 sent)
 * to ENDPOINT/BUCKET/pN, `concurrency` at once on reused easy handles and
 * connections, as little as libcurl lets a client do per request. With -k
 * each request is signed by libcurl's SigV4 (CURLOPT_AWS_SIGV4, as the
 * engine did until 2026-12-07), with -K by net/sigv4.c (as it does now).
 * Prints wall, user + sys CPU (getrusage) and CPU per PUT. Run it against
 * bench/putsink.py (no signature checked) or Swift's s3api (checked). */
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>

#include "sigv4.h"

struct slot {
	CURL *easy;
	size_t pos;
	struct curl_slist *hdrs;
	struct curl_slist *signed_hdrs;   /* -K: this request's */
};

static struct sigv4 signer;          /* -K */

static const char *body;
static size_t body_len;

static size_t read_body(char *buf, size_t size, size_t n, void *arg)
{
	struct slot *s = arg;
	size_t left = body_len - s->pos, len = size * n;

	if (len > left)
		len = left;
	memcpy(buf, body + s->pos, len);
	s->pos += len;
	return len;
}

static size_t discard(char *buf, size_t size, size_t n, void *arg)
{
	(void)buf;
	(void)arg;
	return size * n;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void start(struct slot *s, const char *endpoint, const char *bucket,
		  unsigned long i, const char *keysecret, bool own)
{
	char url[1024];

	snprintf(url, sizeof(url), "%s/%s/p%lu", endpoint, bucket, i);
	s->pos = 0;
	curl_easy_setopt(s->easy, CURLOPT_URL, url);
	curl_easy_setopt(s->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(s->easy, CURLOPT_READFUNCTION, read_body);
	curl_easy_setopt(s->easy, CURLOPT_READDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_INFILESIZE_LARGE,
			 (curl_off_t)body_len);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
	curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
	if (own) {
		free(s->signed_hdrs);
		if (sigv4_sign(&signer, "PUT", url, s->hdrs, time(NULL),
			       &s->signed_hdrs)) {
			fprintf(stderr, "cannot sign\n");
			exit(1);
		}
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER,
				 s->signed_hdrs);
	} else if (keysecret) {
		curl_easy_setopt(s->easy, CURLOPT_AWS_SIGV4,
				 "aws:amz:us-east-1:s3");
		curl_easy_setopt(s->easy, CURLOPT_USERPWD, keysecret);
	}
}

int main(int argc, char **argv)
{
	unsigned long count = 5000, conc = 16, size = 8192, sent = 0, done = 0;
	const char *keysecret = NULL;
	bool own = false;
	char *colon;
	unsigned char md[16];
	char md5hdr[64], b64[32];
	struct slot *slots;
	double t0, c0, t1, c1;
	CURLM *multi;
	int opt, running;

	while ((opt = getopt(argc, argv, "n:c:s:k:K:")) != -1) {
		switch (opt) {
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 'c': conc = strtoul(optarg, NULL, 10); break;
		case 's': size = strtoul(optarg, NULL, 10); break;
		case 'k': keysecret = optarg; break;
		case 'K': keysecret = optarg; own = true; break;
		default: goto usage;
		}
	}
	if (argc - optind != 2 || !conc || !count) {
usage:
		fprintf(stderr, "usage: bench_curlput [-n count] [-c conc] "
			"[-s size] [-k|-K key:secret] ENDPOINT BUCKET\n");
		return 2;
	}
	if (own) {
		/* a copy split at the first colon (Swift's "test:tester:
		 * testing" does not split so: use -k there) */
		keysecret = strdup(keysecret);
		colon = keysecret ? strchr(keysecret, ':') : NULL;
		if (!colon)
			goto usage;
		*colon = '\0';
		sigv4_init(&signer, keysecret, colon + 1, "us-east-1", "s3");
	}
	body_len = size;
	body = malloc(size ? size : 1);
	if (!body)
		return 1;
	for (size_t i = 0; i < size; i++)
		((char *)body)[i] = (char)(i * 131 + 7);
	EVP_Digest(body, size, md, NULL, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)b64, md, 16);
	snprintf(md5hdr, sizeof(md5hdr), "Content-MD5: %s", b64);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conc);
	slots = calloc(conc, sizeof(*slots));
	if (!slots)
		return 1;
	t0 = now();
	c0 = cpu_seconds();
	for (unsigned long i = 0; i < conc && sent < count; i++) {
		slots[i].easy = curl_easy_init();
		slots[i].hdrs = curl_slist_append(NULL, md5hdr);
		slots[i].hdrs = curl_slist_append(slots[i].hdrs, "Expect:");
		slots[i].hdrs = curl_slist_append(slots[i].hdrs,
			"x-amz-content-sha256: UNSIGNED-PAYLOAD");
		start(&slots[i], argv[optind], argv[optind + 1], sent++,
		      keysecret, own);
		curl_multi_add_handle(multi, slots[i].easy);
	}
	while (done < count) {
		CURLMsg *m;
		int left;

		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left))) {
			struct slot *s;
			long code = 0;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
					  (char **)&s);
			curl_easy_getinfo(m->easy_handle,
					  CURLINFO_RESPONSE_CODE, &code);
			if (m->data.result != CURLE_OK || code != 200) {
				fprintf(stderr, "PUT failed: %s, HTTP %ld\n",
					curl_easy_strerror(m->data.result),
					code);
				return 1;
			}
			done++;
			curl_multi_remove_handle(multi, s->easy);
			if (sent < count) {
				start(s, argv[optind], argv[optind + 1],
				      sent++, keysecret, own);
				curl_multi_add_handle(multi, s->easy);
			}
		}
		if (done < count)
			curl_multi_poll(multi, NULL, 0, 1000, NULL);
	}
	t1 = now();
	c1 = cpu_seconds();
	printf("%lu PUTs of %lu bytes, %lu at once%s: %.2f s wall, "
	       "%.2f s CPU, %.1f us CPU per PUT\n", count, size, conc,
	       own ? ", SigV4 by net/sigv4.c" : keysecret ?
	       ", SigV4 by libcurl" : "", t1 - t0, c1 - c0,
	       (c1 - c0) * 1e6 / (double)count);
	for (unsigned long i = 0; i < conc; i++) {
		if (slots[i].easy)
			curl_easy_cleanup(slots[i].easy);
		curl_slist_free_all(slots[i].hdrs);
		free(slots[i].signed_hdrs);
	}
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	free(slots);
	free((void *)body);
	return 0;
}
