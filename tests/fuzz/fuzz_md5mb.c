/* fuzz_md5mb: arbitrary bytes as a job set for the multi-buffer MD5: the
 * input picks the kernel, the number of messages, their lengths, the
 * sizes of the segments they are fed in and when the manager is polled or
 * flushed; the message bytes are the input itself. Every digest must be
 * OpenSSL's, every job must come back exactly once. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "md5mb.h"

#include "banned.h"

#define FUZZ_JOBS 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct msg {
	const uint8_t *data;
	size_t len, fed;
	bool done;
};

struct in {
	const uint8_t *p;
	size_t n, at;
};

static unsigned next_byte(struct in *in)
{
	/* past the end: zeros, so every input is a complete job set */
	return in->at < in->n ? in->p[in->at++] : 0;
}

static void feed(struct md5mb *m, struct md5mb_job *j, struct msg *x,
		 struct in *in)
{
	size_t left = x->len - x->fed;
	size_t seg = next_byte(in) * 3;

	if (seg > left || seg == 0)
		seg = left;
	j->data = x->data + x->fed;
	j->len = seg;
	x->fed += seg;
	j->last = x->fed == x->len;
	md5mb_submit(m, j);
}

static void back(struct md5mb *m, struct md5mb_job *j, struct in *in,
		 size_t *open)
{
	struct msg *x = j->user;
	uint8_t want[16];
	unsigned int n = 0;

	if (!j->last) {
		feed(m, j, x, in);
		return;
	}
	if (x->done)
		abort();  /* came back twice */
	if (!EVP_Digest(x->data, x->len, want, &n, EVP_md5(), NULL) ||
	    memcmp(want, j->digest, 16))
		abort();
	x->done = true;
	(*open)--;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum md5mb_kernel kernels[] = {
		MD5MB_SCALAR, MD5MB_AVX2, MD5MB_AVX512, MD5MB_AUTO
	};
	struct md5mb_job jobs[FUZZ_JOBS];
	struct msg msgs[FUZZ_JOBS];
	struct errbuf eb = ERRBUF_INIT;
	struct in in = { data, size, 0 };
	struct md5mb *m = NULL;
	struct md5mb_job *j;
	size_t n, i, started = 0, open = 0;

	if (md5mb_new(kernels[next_byte(&in) % 4], &m, &eb) < 0)
		return 0;  /* a kernel this CPU lacks */
	n = 1 + next_byte(&in) % FUZZ_JOBS;
	for (i = 0; i < n; i++) {
		/* lengths up to ~2 KiB, anywhere in the input (wrapping to
		 * its start when it is short) */
		size_t len = next_byte(&in) * 8 + next_byte(&in) % 8;

		if (len > size)
			len = size;
		msgs[i].data = data + (size - len ? i * 7 % (size - len + 1) :
				       0);
		msgs[i].len = len;
		msgs[i].fed = 0;
		msgs[i].done = false;
	}
	while (started < n || open) {
		/* past the input's end: start and flush, so it ends */
		unsigned op = in.at < in.n ? next_byte(&in) : 3;

		if (started < n && (op & 1 || !open)) {
			md5mb_job_init(&jobs[started]);
			jobs[started].user = &msgs[started];
			open++;
			feed(m, &jobs[started], &msgs[started], &in);
			started++;
		}
		while ((j = md5mb_poll(m)))
			back(m, j, &in, &open);
		if (started == n || op & 2) {
			j = md5mb_flush(m);
			if (j)
				back(m, j, &in, &open);
		}
	}
	if (md5mb_flush(m))
		abort();
	for (i = 0; i < n; i++)
		if (!msgs[i].done)
			abort();
	md5mb_free(m);
	return 0;
}
