/* md5mb: the multi-buffer MD5 manager (lanes, queues, padding), the
 * scalar kernel and the run-time kernel choice. Kernels: md5mb_avx2.c,
 * md5mb_avx512.c. */
#include "md5mb.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "md5mb_kernel.h"
#include "banned.h"

struct md5mb {
	enum md5mb_kernel kernel;
	unsigned lanes;
	/* with this many busy lanes or fewer, a pass runs them one by one
	 * through OpenSSL's block function: a vector pass costs about as
	 * much as this many scalar blocks (measured: scalar_upto_measure) */
	unsigned scalar_upto;
	md5mb_blocks_fn *blocks;
	struct md5mb_lanes st;
	struct md5mb_job *lane_job[MD5MB_MAX_LANES];
	size_t lane_left[MD5MB_MAX_LANES]; /* blocks left in the region */
	uint32_t active;                   /* lanes with a job */
	unsigned busy;
	struct md5mb_job *wait_head, *wait_tail;  /* submitted, no lane */
	struct md5mb_job *done_head, *done_tail;  /* back to the caller */
};

static const uint32_t md5_init[4] = {
	0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u
};

static inline uint32_t rol32(uint32_t x, unsigned s)
{
	return (x << s) | (x >> (32 - s));
}

static inline uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

#define SC_F(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define SC_G(b, c, d) ((c) ^ ((d) & ((b) ^ (c))))
#define SC_H(b, c, d) ((b) ^ (c) ^ (d))
#define SC_I(b, c, d) ((c) ^ ((b) | ~(d)))
#define SC_STEP(f, a, b, c, d, k, s, t)                                     \
	a = b + rol32(a + SC_##f(b, c, d) + w[k] + (t), s);

static void md5_block(uint32_t h[4], const uint8_t *p)
{
	uint32_t w[16], a = h[0], b = h[1], c = h[2], d = h[3];
	int i;

	for (i = 0; i < 16; i++)
		w[i] = load_le32(p + 4 * i);
	MD5_STEPS(SC_STEP)
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

void md5mb_blocks_scalar(struct md5mb_lanes *s, uint32_t active, size_t n)
{
	unsigned lane;

	for (lane = 0; lane < MD5MB_MAX_LANES; lane++) {
		uint32_t h[4];
		size_t i;
		int k;

		if (!(active & (1u << lane)))
			continue;
		for (k = 0; k < 4; k++)
			h[k] = s->h[k][lane];
		for (i = 0; i < n; i++) {
			md5_block(h, s->p[lane]);
			s->p[lane] += 64;
		}
		for (k = 0; k < 4; k++)
			s->h[k][lane] = h[k];
	}
}

const char *md5mb_kernel_name(enum md5mb_kernel k)
{
	switch (k) {
	case MD5MB_AUTO:
		return "auto";
	case MD5MB_SCALAR:
		return "scalar";
	case MD5MB_AVX2:
		return "avx2";
	case MD5MB_AVX512:
		return "avx512";
	}
	return "?";
}

int md5mb_kernel_parse(const char *name, enum md5mb_kernel *out)
{
	static const enum md5mb_kernel all[] = {
		MD5MB_AUTO, MD5MB_SCALAR, MD5MB_AVX2, MD5MB_AVX512
	};
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(name, md5mb_kernel_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

bool md5mb_kernel_supported(enum md5mb_kernel k)
{
	switch (k) {
	case MD5MB_AUTO:
	case MD5MB_SCALAR:
		return true;
#if MD5MB_HAVE_X86
	case MD5MB_AVX2:
		return __builtin_cpu_supports("avx2");
	case MD5MB_AVX512:
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("avx512bw");
#else
	case MD5MB_AVX2:
	case MD5MB_AVX512:
		return false;
#endif
	}
	return false;
}

enum md5mb_kernel md5mb_kernel_best(void)
{
	if (md5mb_kernel_supported(MD5MB_AVX512))
		return MD5MB_AVX512;
	if (md5mb_kernel_supported(MD5MB_AVX2))
		return MD5MB_AVX2;
	return MD5MB_SCALAR;
}

#if MD5MB_HAVE_X86
/* Where lanes start to pay differs between CPUs with the same kernel:
 * AVX2, jobs of 1 MiB, GB/s per core in lanes against one by one: 2 jobs
 * 0.76 vs 0.65 and 3 jobs 1.12 vs 0.65 on an AMD EPYC (Zen 3), while on
 * a Zen 5 4 jobs gave 0.9 vs 0.7 (bench/bench_md5mb). So it is measured:
 * one pass of the vector kernel with one busy lane (a pass costs the
 * same for 1 or 8 of the group's lanes) against one lane through
 * OpenSSL, 32 blocks each, best of 16 (the quickest run is the one the
 * scheduler left alone). About 0.2 ms, once per kernel per process; two
 * threads that measure at once both store a sound value. */
static unsigned scalar_upto_measure(md5mb_blocks_fn *blocks, unsigned lanes)
{
	static uint8_t data[32 * 64];
	struct md5mb_lanes st;
	double vec = 1.0, one = 1.0, t;  /* s; each pass takes microseconds */
	unsigned i, k;

	memset(&st, 0, sizeof(st));
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 131u);
	for (i = 0; i < 16; i++) {
		st.p[0] = data;
		t = clock_mono_s();
		blocks(&st, 1u, 32);
		t = clock_mono_s() - t;
		vec = t < vec ? t : vec;
		st.p[0] = data;
		t = clock_mono_s();
		md5mb_blocks_openssl(&st, 1u, 32);
		t = clock_mono_s() - t;
		one = t < one ? t : one;
	}
	if (one <= 0)
		one = 1e-9;
	k = (unsigned)(vec / one);
	return k < lanes ? k : lanes - 1;
}

/* scalar_upto_measure's result per kernel, + 1 (0: not measured yet) */
static _Atomic unsigned scalar_upto_known[MD5MB_AVX512 + 1];

static unsigned scalar_upto_for(enum md5mb_kernel k, md5mb_blocks_fn *blocks,
				unsigned lanes)
{
	unsigned v = atomic_load(&scalar_upto_known[k]);

	if (!v) {
		v = scalar_upto_measure(blocks, lanes) + 1;
		atomic_store(&scalar_upto_known[k], v);
	}
	return v - 1;
}
#endif

int md5mb_new(enum md5mb_kernel k, struct md5mb **out, struct errbuf *eb)
{
	struct md5mb *m;

	*out = NULL;
	if (k == MD5MB_AUTO)
		k = md5mb_kernel_best();
	if (!md5mb_kernel_supported(k))
		return errbuf_set(eb, -ENOTSUP, "cannot use the '%s' MD5 "
				  "kernel: %s", md5mb_kernel_name(k),
				  MD5MB_HAVE_X86 ? "this CPU lacks it" :
				  "not built for this architecture");
	m = calloc(1, sizeof(*m));
	if (!m)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	m->kernel = k;
	switch (k) {
#if MD5MB_HAVE_X86
	case MD5MB_AVX2:
		m->lanes = 16;
		m->blocks = md5mb_blocks_avx2;
		m->scalar_upto = scalar_upto_for(k, m->blocks, m->lanes);
		break;
	case MD5MB_AVX512:
		m->lanes = 32;
		m->blocks = md5mb_blocks_avx512;
		m->scalar_upto = scalar_upto_for(k, m->blocks, m->lanes);
		break;
#endif
	default:
		m->lanes = 1;
		/* the portable kernel always (what --md5 tests compare) */
		m->scalar_upto = 0;
		m->blocks = md5mb_blocks_scalar;
		break;
	}
	*out = m;
	return 0;
}

void md5mb_free(struct md5mb *m)
{
	free(m);
}

enum md5mb_kernel md5mb_kernel_of(const struct md5mb *m)
{
	return m->kernel;
}

unsigned md5mb_lanes(const struct md5mb *m)
{
	return m->lanes;
}

unsigned md5mb_scalar_upto(const struct md5mb *m)
{
	return m->scalar_upto;
}

void md5mb_set_scalar_upto(struct md5mb *m, unsigned n)
{
	m->scalar_upto = n;
}

void md5mb_job_init(struct md5mb_job *j)
{
	memcpy(j->h, md5_init, sizeof(j->h));
	j->total = 0;
	j->tail_len = 0;
	j->nreg = 0;
	j->reg = 0;
	j->next = NULL;
}

static void list_push(struct md5mb_job **head, struct md5mb_job **tail,
		      struct md5mb_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static struct md5mb_job *list_pop(struct md5mb_job **head,
				  struct md5mb_job **tail)
{
	struct md5mb_job *j = *head;

	if (j) {
		*head = j->next;
		if (!*head)
			*tail = NULL;
		j->next = NULL;
	}
	return j;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Cut j's segment into the block regions a lane runs through:
 *
 *   [blk[0..64): tail of the previous segment + head of this one]
 *   [data: the whole blocks of the segment, in place (not copied)]
 *   [blk[64..192): last tail + 0x80 + zeros + bit length, if last]
 *
 * A rest short of a block waits in tail for the next segment. */
static void job_cut(struct md5mb_job *j)
{
	const uint8_t *d = j->data;
	size_t n = j->len, whole;

	j->nreg = 0;
	j->reg = 0;
	j->total += n;
	if (j->tail_len && n) {
		size_t take = 64 - j->tail_len < n ? 64 - j->tail_len : n;

		memcpy(j->tail + j->tail_len, d, take);
		j->tail_len += (unsigned)take;
		d += take;
		n -= take;
		if (j->tail_len == 64) {
			memcpy(j->blk, j->tail, 64);
			j->regs[j->nreg].p = j->blk;
			j->regs[j->nreg++].blocks = 1;
			j->tail_len = 0;
		}
	}
	whole = n / 64;
	if (whole) {
		j->regs[j->nreg].p = d;
		j->regs[j->nreg++].blocks = whole;
		d += whole * 64;
		n -= whole * 64;
	}
	if (n) {
		/* the tail is empty here: a partial one took all of n */
		memcpy(j->tail, d, n);
		j->tail_len = (unsigned)n;
	}
	if (j->last) {
		uint8_t *f = j->blk + 64;
		size_t blocks = j->tail_len < 56 ? 1 : 2;
		uint64_t bits = j->total * 8;
		int i;

		memcpy(f, j->tail, j->tail_len);
		f[j->tail_len] = 0x80;
		memset(f + j->tail_len + 1, 0, blocks * 64 - j->tail_len - 1);
		for (i = 0; i < 8; i++)
			f[blocks * 64 - 8 + i] = (uint8_t)(bits >> (8 * i));
		j->regs[j->nreg].p = f;
		j->regs[j->nreg++].blocks = blocks;
		j->tail_len = 0;
	}
}

static void job_done(struct md5mb *m, struct md5mb_job *j)
{
	int k;

	if (j->last)
		for (k = 0; k < 4; k++)
			put_le32(j->digest + 4 * k, j->h[k]);
	list_push(&m->done_head, &m->done_tail, j);
}

/* Give free lanes the waiting jobs. */
static void lanes_fill(struct md5mb *m)
{
	unsigned lane;
	int k;

	for (lane = 0; lane < m->lanes && m->wait_head; lane++) {
		struct md5mb_job *j;

		if (m->active & (1u << lane))
			continue;
		j = list_pop(&m->wait_head, &m->wait_tail);
		for (k = 0; k < 4; k++)
			m->st.h[k][lane] = j->h[k];
		m->st.p[lane] = j->regs[0].p;
		m->lane_left[lane] = j->regs[0].blocks;
		m->lane_job[lane] = j;
		m->active |= 1u << lane;
		m->busy++;
	}
}

void md5mb_submit(struct md5mb *m, struct md5mb_job *j)
{
	job_cut(j);
	if (!j->nreg) {
		job_done(m, j);  /* less than a block: it waits in tail */
		return;
	}
	list_push(&m->wait_head, &m->wait_tail, j);
	lanes_fill(m);
}

/* One pass: every busy lane advances to the end of the shortest region;
 * lanes whose job's segment is through hand it back and take the next. */
static void lanes_step(struct md5mb *m)
{
	size_t n = SIZE_MAX;
	unsigned lane;
	int k;

	for (lane = 0; lane < m->lanes; lane++)
		if (m->active & (1u << lane) && m->lane_left[lane] < n)
			n = m->lane_left[lane];
	if (m->busy <= m->scalar_upto)
		md5mb_blocks_openssl(&m->st, m->active, n);
	else
		m->blocks(&m->st, m->active, n);
	for (lane = 0; lane < m->lanes; lane++) {
		struct md5mb_job *j = m->lane_job[lane];

		if (!(m->active & (1u << lane)))
			continue;
		m->lane_left[lane] -= n;
		if (m->lane_left[lane])
			continue;
		if (++j->reg < j->nreg) {
			m->st.p[lane] = j->regs[j->reg].p;
			m->lane_left[lane] = j->regs[j->reg].blocks;
			continue;
		}
		for (k = 0; k < 4; k++)
			j->h[k] = m->st.h[k][lane];
		m->lane_job[lane] = NULL;
		m->active &= ~(1u << lane);
		m->busy--;
		job_done(m, j);
	}
	lanes_fill(m);
}

struct md5mb_job *md5mb_poll(struct md5mb *m)
{
	while (!m->done_head && m->busy == m->lanes)
		lanes_step(m);
	return list_pop(&m->done_head, &m->done_tail);
}

struct md5mb_job *md5mb_flush(struct md5mb *m)
{
	while (!m->done_head && m->busy)
		lanes_step(m);
	return list_pop(&m->done_head, &m->done_tail);
}

void md5mb_digest_many(struct md5mb *m, struct md5mb_job *jobs,
		       const void *const *bufs, const size_t *lens, size_t n,
		       uint8_t (*out)[16])
{
	struct md5mb_job *j;
	size_t i;

	for (i = 0; i < n; i++) {
		md5mb_job_init(&jobs[i]);
		jobs[i].data = bufs[i];
		jobs[i].len = lens[i];
		jobs[i].last = true;
		jobs[i].user = &out[i];
		md5mb_submit(m, &jobs[i]);
		while ((j = md5mb_poll(m)))
			memcpy(j->user, j->digest, 16);
	}
	while ((j = md5mb_flush(m)))
		memcpy(j->user, j->digest, 16);
}
