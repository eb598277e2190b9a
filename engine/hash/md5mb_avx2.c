/* md5mb_avx2: the 8-lane MD5 block kernel (AVX2): one 32-bit lane of a
 * ymm register per message. Compiled for AVX2 per function, so the rest
 * of the build stays baseline x86-64; md5mb.c calls it only when CPUID
 * says the CPU has it. */
#include "md5mb_kernel.h"

#if MD5MB_HAVE_X86
#include <immintrin.h>
#include <stdbool.h>

#define TARGET_AVX2 __attribute__((target("avx2")))

/* 8 x 8 transpose of 32-bit words: in r[i] 8 words of lane i, out r[k]
 * word k of every lane. */
TARGET_AVX2 static inline void transpose8(__m256i r[8])
{
	__m256i a[8], b[8];
	int m, j;

	for (m = 0; m < 4; m++) {
		a[2 * m] = _mm256_unpacklo_epi32(r[2 * m], r[2 * m + 1]);
		a[2 * m + 1] = _mm256_unpackhi_epi32(r[2 * m], r[2 * m + 1]);
	}
	/* b[4q + j]: 128-bit lane L holds word 4L + j of lanes 4q..4q+3 */
	for (m = 0; m < 2; m++) {
		b[4 * m + 0] = _mm256_unpacklo_epi64(a[4 * m], a[4 * m + 2]);
		b[4 * m + 1] = _mm256_unpackhi_epi64(a[4 * m], a[4 * m + 2]);
		b[4 * m + 2] = _mm256_unpacklo_epi64(a[4 * m + 1],
						     a[4 * m + 3]);
		b[4 * m + 3] = _mm256_unpackhi_epi64(a[4 * m + 1],
						     a[4 * m + 3]);
	}
	for (j = 0; j < 4; j++) {
		r[j] = _mm256_permute2x128_si256(b[j], b[4 + j], 0x20);
		r[4 + j] = _mm256_permute2x128_si256(b[j], b[4 + j], 0x31);
	}
}

#define FN_F(b, c, d) _mm256_xor_si256(d, _mm256_and_si256(b,              \
				_mm256_xor_si256(c, d)))
#define FN_G(b, c, d) _mm256_xor_si256(c, _mm256_and_si256(d,              \
				_mm256_xor_si256(b, c)))
#define FN_H(b, c, d) _mm256_xor_si256(_mm256_xor_si256(b, c), d)
#define FN_I(b, c, d) _mm256_xor_si256(c, _mm256_or_si256(b,               \
				_mm256_xor_si256(d, ones)))

#define STEP(f, a, b, c, d, k, s, t, w)                                     \
	a = _mm256_add_epi32(a, _mm256_add_epi32(w[k],                     \
				_mm256_set1_epi32((int)(t))));              \
	a = _mm256_add_epi32(a, FN_##f(b, c, d));                           \
	a = _mm256_add_epi32(_mm256_or_si256(_mm256_slli_epi32(a, s),      \
			_mm256_srli_epi32(a, 32 - (s))), b);
/* two groups of 8 lanes step by step: one group's chain of dependent
 * instructions alone leaves most of the vector units idle */
#define STEP1(f, a, b, c, d, k, s, t) STEP(f, a##0, b##0, c##0, d##0, k, s, t, w0)
#define STEP2(f, a, b, c, d, k, s, t)                                       \
	STEP(f, a##0, b##0, c##0, d##0, k, s, t, w0)                          \
	STEP(f, a##1, b##1, c##1, d##1, k, s, t, w1)

/* Lanes 8 * g .. 8 * g + 7: their pointers, idle lanes on a constant
 * block in place (their state is garbage anyway: no branch in the loop,
 * no read past a buffer). */
static void group_ptrs(const struct md5mb_lanes *st, uint32_t active, int g,
		       const uint8_t *p[8], size_t step[8])
{
	static const uint8_t idle[64];
	int i;

	for (i = 0; i < 8; i++) {
		bool on = active & (1u << (8 * g + i));

		p[i] = on ? st->p[8 * g + i] : idle;
		step[i] = on ? 64 : 0;
	}
}

TARGET_AVX2 static inline void load_block(__m256i w[16], const uint8_t *p[8],
					  const size_t step[8])
{
	__m256i hi[8];
	int i;

	for (i = 0; i < 8; i++) {
		w[i] = _mm256_loadu_si256((const void *)p[i]);
		hi[i] = _mm256_loadu_si256((const void *)(p[i] + 32));
		p[i] += step[i];
	}
	transpose8(w);
	transpose8(hi);
	for (i = 0; i < 8; i++)
		w[8 + i] = hi[i];
}

#define LOAD_H(g)                                                           \
	a##g = _mm256_loadu_si256((const void *)(st->h[0] + 8 * g));     \
	b##g = _mm256_loadu_si256((const void *)(st->h[1] + 8 * g));     \
	c##g = _mm256_loadu_si256((const void *)(st->h[2] + 8 * g));     \
	d##g = _mm256_loadu_si256((const void *)(st->h[3] + 8 * g));
#define STORE_H(g)                                                          \
	_mm256_storeu_si256((void *)(st->h[0] + 8 * g), a##g);           \
	_mm256_storeu_si256((void *)(st->h[1] + 8 * g), b##g);           \
	_mm256_storeu_si256((void *)(st->h[2] + 8 * g), c##g);           \
	_mm256_storeu_si256((void *)(st->h[3] + 8 * g), d##g);
#define ADD_H(g)                                                            \
	a##g = _mm256_add_epi32(a##g, sa##g);                               \
	b##g = _mm256_add_epi32(b##g, sb##g);                               \
	c##g = _mm256_add_epi32(c##g, sc##g);                               \
	d##g = _mm256_add_epi32(d##g, sd##g);
#define SAVE_H(g)                                                           \
	__m256i sa##g = a##g, sb##g = b##g, sc##g = c##g, sd##g = d##g;

TARGET_AVX2 static void run_one(struct md5mb_lanes *st, uint32_t active,
				size_t n)
{
	const __m256i ones = _mm256_set1_epi32(-1);
	const uint8_t *p0[8];
	size_t step0[8];
	__m256i a0, b0, c0, d0;
	int i;

	group_ptrs(st, active, 0, p0, step0);
	LOAD_H(0)
	while (n--) {
		__m256i w0[16];
		SAVE_H(0)

		load_block(w0, p0, step0);
		MD5_STEPS(STEP1)
		ADD_H(0)
	}
	STORE_H(0)
	for (i = 0; i < 8; i++)
		if (active & (1u << i))
			st->p[i] = p0[i];
}

TARGET_AVX2 static void run_two(struct md5mb_lanes *st, uint32_t active,
				size_t n)
{
	const __m256i ones = _mm256_set1_epi32(-1);
	const uint8_t *p0[8], *p1[8];
	size_t step0[8], step1[8];
	__m256i a0, b0, c0, d0, a1, b1, c1, d1;
	int i;

	group_ptrs(st, active, 0, p0, step0);
	group_ptrs(st, active, 1, p1, step1);
	LOAD_H(0)
	LOAD_H(1)
	while (n--) {
		__m256i w0[16], w1[16];
		SAVE_H(0)
		SAVE_H(1)

		load_block(w0, p0, step0);
		load_block(w1, p1, step1);
		MD5_STEPS(STEP2)
		ADD_H(0)
		ADD_H(1)
	}
	STORE_H(0)
	STORE_H(1)
	for (i = 0; i < 8; i++) {
		if (active & (1u << i))
			st->p[i] = p0[i];
		if (active & (1u << (8 + i)))
			st->p[8 + i] = p1[i];
	}
}

/* 16 lanes; a pass whose busy lanes are all in the first 8 runs one
 * group only */
TARGET_AVX2 void md5mb_blocks_avx2(struct md5mb_lanes *st, uint32_t active,
				   size_t n)
{
	if (active >> 8)
		run_two(st, active, n);
	else
		run_one(st, active, n);
}
#endif
