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

#define STEP(f, a, b, c, d, k, s, t)                                        \
	a = _mm512_add_epi32(a, _mm512_add_epi32(w[k],                     \
				_mm512_set1_epi32((int)(t))));              \
	a = _mm512_add_epi32(a, _mm512_ternarylogic_epi32(b, c, d, TL_##f)); \
	a = _mm512_add_epi32(_mm512_rol_epi32(a, s), b);

TARGET_AVX512 void md5mb_blocks_avx512(struct md5mb_lanes *st,
				       uint32_t active, size_t n)
{
	static const uint8_t idle[64];
	const uint8_t *p[16];
	size_t step[16];
	__m512i a, b, c, d;
	int i;

	/* idle lanes hash a constant block in place (their state is
	 * garbage anyway): no branch in the loop, no read past a buffer */
	for (i = 0; i < 16; i++) {
		bool on = active & (1u << i);

		p[i] = on ? st->p[i] : idle;
		step[i] = on ? 64 : 0;
	}
	a = _mm512_loadu_si512(st->h[0]);
	b = _mm512_loadu_si512(st->h[1]);
	c = _mm512_loadu_si512(st->h[2]);
	d = _mm512_loadu_si512(st->h[3]);
	while (n--) {
		__m512i w[16];
		__m512i a0 = a, b0 = b, c0 = c, d0 = d;

		for (i = 0; i < 16; i++) {
			w[i] = _mm512_loadu_si512(p[i]);
			p[i] += step[i];
		}
		transpose16(w);
		MD5_STEPS(STEP)
		a = _mm512_add_epi32(a, a0);
		b = _mm512_add_epi32(b, b0);
		c = _mm512_add_epi32(c, c0);
		d = _mm512_add_epi32(d, d0);
	}
	_mm512_storeu_si512(st->h[0], a);
	_mm512_storeu_si512(st->h[1], b);
	_mm512_storeu_si512(st->h[2], c);
	_mm512_storeu_si512(st->h[3], d);
	for (i = 0; i < 16; i++)
		if (active & (1u << i))
			st->p[i] = p[i];
}
#endif
