/* md5mb_openssl: the manager's kernel for a few lone lanes: OpenSSL's
 * assembly MD5 block function, reached through MD5_Update on a context
 * seeded with the lane's state (whole blocks, nothing buffered: only A-D
 * matter). About 10% faster than the portable C kernel (bench_md5mb:
 * 0.69-0.73 against 0.62-0.66 GB/s), which is what a large file alone in
 * a worker's lanes runs at. MD5_Update is deprecated in OpenSSL 3 but
 * kept there; without it the portable kernel would do. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/md5.h>

#include "md5mb_kernel.h"
#include "banned.h"

void md5mb_blocks_openssl(struct md5mb_lanes *s, uint32_t active, size_t n)
{
	unsigned lane;

	for (lane = 0; lane < MD5MB_MAX_LANES; lane++) {
		MD5_CTX c = { 0 };

		if (!(active & (1u << lane)))
			continue;
		c.A = s->h[0][lane];
		c.B = s->h[1][lane];
		c.C = s->h[2][lane];
		c.D = s->h[3][lane];
		MD5_Update(&c, s->p[lane], n * 64);
		s->p[lane] += n * 64;
		s->h[0][lane] = c.A;
		s->h[1][lane] = c.B;
		s->h[2][lane] = c.C;
		s->h[3][lane] = c.D;
	}
}
