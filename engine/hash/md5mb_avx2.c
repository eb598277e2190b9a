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

#define STEP(f, a, b, c, d, k, s, t)                                        \
	a = _mm256_add_epi32(a, _mm256_add_epi32(w[k],                     \
				_mm256_set1_epi32((int)(t))));              \
	a = _mm256_add_epi32(a, FN_##f(b, c, d));                           \
	a = _mm256_add_epi32(_mm256_or_si256(_mm256_slli_epi32(a, s),      \
			_mm256_srli_epi32(a, 32 - (s))), b);

TARGET_AVX2 void md5mb_blocks_avx2(struct md5mb_lanes *st, uint32_t active,
				   size_t n)
{
	static const uint8_t idle[64];
	const __m256i ones = _mm256_set1_epi32(-1);
	const uint8_t *p[8];
	size_t step[8];
	__m256i a, b, c, d;
	int i;

	/* idle lanes hash a constant block in place: see the AVX-512 one */
	for (i = 0; i < 8; i++) {
		bool on = active & (1u << i);

		p[i] = on ? st->p[i] : idle;
		step[i] = on ? 64 : 0;
	}
	a = _mm256_loadu_si256((const __m256i *)st->h[0]);
	b = _mm256_loadu_si256((const __m256i *)st->h[1]);
	c = _mm256_loadu_si256((const __m256i *)st->h[2]);
	d = _mm256_loadu_si256((const __m256i *)st->h[3]);
	while (n--) {
		__m256i w[16], hi[8];
		__m256i a0 = a, b0 = b, c0 = c, d0 = d;

		for (i = 0; i < 8; i++) {
			w[i] = _mm256_loadu_si256((const __m256i *)p[i]);
			hi[i] = _mm256_loadu_si256((const __m256i *)
						   (p[i] + 32));
			p[i] += step[i];
		}
		transpose8(w);
		transpose8(hi);
		for (i = 0; i < 8; i++)
			w[8 + i] = hi[i];
		MD5_STEPS(STEP)
		a = _mm256_add_epi32(a, a0);
		b = _mm256_add_epi32(b, b0);
		c = _mm256_add_epi32(c, c0);
		d = _mm256_add_epi32(d, d0);
	}
	_mm256_storeu_si256((__m256i *)st->h[0], a);
	_mm256_storeu_si256((__m256i *)st->h[1], b);
	_mm256_storeu_si256((__m256i *)st->h[2], c);
	_mm256_storeu_si256((__m256i *)st->h[3], d);
	for (i = 0; i < 8; i++)
		if (active & (1u << i))
			st->p[i] = p[i];
}
#endif
