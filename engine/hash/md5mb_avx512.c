/* md5mb_avx512: the 16-lane MD5 block kernel (AVX-512F/VL/BW): one 32-bit
 * lane of a zmm register per message; vpternlogd computes each round
 * function in one instruction and vprold rotates. Compiled for AVX-512
 * per function, so the rest of the build stays baseline x86-64; md5mb.c
 * calls it only when CPUID says the CPU has it. */
#include "md5mb_kernel.h"

#if MD5MB_HAVE_X86
#include <immintrin.h>
#include <stdbool.h>

#define TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw")))

/* 16 x 16 transpose of 32-bit words: in r[i] the 16 words of lane i's
 * block, out w[k] word k of every lane. Unpacks within 128-bit lanes
 * (two steps), then a 4 x 4 transpose of the 128-bit lanes. */
TARGET_AVX512 static inline void transpose16(__m512i r[16])
{
	__m512i a[16], b[16];
	int m, q, j;

	for (m = 0; m < 8; m++) {
		a[2 * m] = _mm512_unpacklo_epi32(r[2 * m], r[2 * m + 1]);
		a[2 * m + 1] = _mm512_unpackhi_epi32(r[2 * m], r[2 * m + 1]);
	}
	/* b[4q + j]: 128-bit lane L holds word 4L + j of lanes 4q..4q+3 */
	for (q = 0; q < 4; q++) {
		b[4 * q + 0] = _mm512_unpacklo_epi64(a[4 * q], a[4 * q + 2]);
		b[4 * q + 1] = _mm512_unpackhi_epi64(a[4 * q], a[4 * q + 2]);
		b[4 * q + 2] = _mm512_unpacklo_epi64(a[4 * q + 1],
						     a[4 * q + 3]);
		b[4 * q + 3] = _mm512_unpackhi_epi64(a[4 * q + 1],
						     a[4 * q + 3]);
	}
	for (j = 0; j < 4; j++) {
		__m512i c0 = _mm512_shuffle_i32x4(b[j], b[4 + j], 0x44);
		__m512i c1 = _mm512_shuffle_i32x4(b[j], b[4 + j], 0xee);
		__m512i c2 = _mm512_shuffle_i32x4(b[8 + j], b[12 + j], 0x44);
		__m512i c3 = _mm512_shuffle_i32x4(b[8 + j], b[12 + j], 0xee);

		r[j] = _mm512_shuffle_i32x4(c0, c2, 0x88);
		r[4 + j] = _mm512_shuffle_i32x4(c0, c2, 0xdd);
		r[8 + j] = _mm512_shuffle_i32x4(c1, c3, 0x88);
		r[12 + j] = _mm512_shuffle_i32x4(c1, c3, 0xdd);
	}
}

/* vpternlogd truth tables of b, c, d: F = b ? c : d, G = d ? b : c,
 * H = b ^ c ^ d, I = c ^ (b | ~d) */
#define TL_F 0xca
#define TL_G 0xe4
#define TL_H 0x96
#define TL_I 0x39

#define STEP(f, a, b, c, d, k, s, t, w)                                     \
	a = _mm512_add_epi32(a, _mm512_add_epi32(w[k],                     \
				_mm512_set1_epi32((int)(t))));              \
	a = _mm512_add_epi32(a, _mm512_ternarylogic_epi32(b, c, d, TL_##f)); \
	a = _mm512_add_epi32(_mm512_rol_epi32(a, s), b);
/* two groups of 16 lanes step by step: each step is a chain of four
 * dependent instructions (2-cycle latency each on Zen 5), so one group
 * alone leaves most of the vector units idle */
#define STEP1(f, a, b, c, d, k, s, t) STEP(f, a##0, b##0, c##0, d##0, k, s, t, w0)
#define STEP2(f, a, b, c, d, k, s, t)                                       \
	STEP(f, a##0, b##0, c##0, d##0, k, s, t, w0)                          \
	STEP(f, a##1, b##1, c##1, d##1, k, s, t, w1)

/* Lanes 16 * g .. 16 * g + 15: their pointers, idle lanes on a constant
 * block in place (their state is garbage anyway: no branch in the loop,
 * no read past a buffer). */
static void group_ptrs(const struct md5mb_lanes *st, uint32_t active, int g,
		       const uint8_t *p[16], size_t step[16])
{
	static const uint8_t idle[64];
	int i;

	for (i = 0; i < 16; i++) {
		bool on = active & (1u << (16 * g + i));

		p[i] = on ? st->p[16 * g + i] : idle;
		step[i] = on ? 64 : 0;
	}
}

TARGET_AVX512 static inline void load_block(__m512i w[16],
					    const uint8_t *p[16],
					    const size_t step[16])
{
	int i;

	for (i = 0; i < 16; i++) {
		w[i] = _mm512_loadu_si512(p[i]);
		p[i] += step[i];
	}
	transpose16(w);
}

#define LOAD_H(g)                                                           \
	a##g = _mm512_loadu_si512(st->h[0] + 16 * g);                       \
	b##g = _mm512_loadu_si512(st->h[1] + 16 * g);                       \
	c##g = _mm512_loadu_si512(st->h[2] + 16 * g);                       \
	d##g = _mm512_loadu_si512(st->h[3] + 16 * g);
#define STORE_H(g)                                                          \
	_mm512_storeu_si512(st->h[0] + 16 * g, a##g);                       \
	_mm512_storeu_si512(st->h[1] + 16 * g, b##g);                       \
	_mm512_storeu_si512(st->h[2] + 16 * g, c##g);                       \
	_mm512_storeu_si512(st->h[3] + 16 * g, d##g);
#define ADD_H(g)                                                            \
	a##g = _mm512_add_epi32(a##g, sa##g);                               \
	b##g = _mm512_add_epi32(b##g, sb##g);                               \
	c##g = _mm512_add_epi32(c##g, sc##g);                               \
	d##g = _mm512_add_epi32(d##g, sd##g);
#define SAVE_H(g)                                                           \
	__m512i sa##g = a##g, sb##g = b##g, sc##g = c##g, sd##g = d##g;

TARGET_AVX512 static void run_one(struct md5mb_lanes *st, uint32_t active,
				  size_t n)
{
	const uint8_t *p0[16];
	size_t step0[16];
	__m512i a0, b0, c0, d0;
	int i;

	group_ptrs(st, active, 0, p0, step0);
	LOAD_H(0)
	while (n--) {
		__m512i w0[16];
		SAVE_H(0)

		load_block(w0, p0, step0);
		MD5_STEPS(STEP1)
		ADD_H(0)
	}
	STORE_H(0)
	for (i = 0; i < 16; i++)
		if (active & (1u << i))
			st->p[i] = p0[i];
}

TARGET_AVX512 static void run_two(struct md5mb_lanes *st, uint32_t active,
				  size_t n)
{
	const uint8_t *p0[16], *p1[16];
	size_t step0[16], step1[16];
	__m512i a0, b0, c0, d0, a1, b1, c1, d1;
	int i;

	group_ptrs(st, active, 0, p0, step0);
	group_ptrs(st, active, 1, p1, step1);
	LOAD_H(0)
	LOAD_H(1)
	while (n--) {
		__m512i w0[16], w1[16];
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
	for (i = 0; i < 16; i++) {
		if (active & (1u << i))
			st->p[i] = p0[i];
		if (active & (1u << (16 + i)))
			st->p[16 + i] = p1[i];
	}
}

/* 32 lanes; a pass whose busy lanes are all in the first 16 runs one
 * group only */
TARGET_AVX512 void md5mb_blocks_avx512(struct md5mb_lanes *st,
				       uint32_t active, size_t n)
{
	if (active >> 16)
		run_two(st, active, n);
	else
		run_one(st, active, n);
}
#endif
