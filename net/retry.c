/* retry: exponential backoff with "equal jitter" (half fixed, half random)
 * so that many clients failing together do not come back together. */
#include "retry.h"

#include "banned.h"

bool retry_should(const struct retry_policy *p, unsigned attempts,
		  bool idempotent, bool retryable)
{
	return idempotent && retryable && attempts >= 1 &&
	       attempts <= p->retries;
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

unsigned retry_delay_ms(const struct retry_policy *p, unsigned attempts,
			uint64_t *rng)
{
	uint64_t d = p->base_ms;
	unsigned i;

	for (i = 1; i < attempts && d < p->max_ms; i++)
		d *= 2;
	if (d > p->max_ms)
		d = p->max_ms;
	if (d < 2)
		return (unsigned)d;
	return (unsigned)(d / 2 + xorshift64(rng) % (d - d / 2 + 1));
}
