/* retry: when and how long to wait before trying a failed request again:
 * exponential backoff with jitter, only for idempotent requests and only
 * for transient failures (see http_status_errno's retryable flag). */
#ifndef SNAP_RETRY_H
#define SNAP_RETRY_H

#include <stdbool.h>
#include <stdint.h>

struct retry_policy {
	unsigned retries;   /* extra attempts after the first (--retries) */
	unsigned base_ms;   /* first backoff */
	unsigned max_ms;    /* cap of one backoff */
};

#define RETRY_POLICY_INIT { 5, 200, 20000 }

/* May a request that failed `attempts` times (>= 1) be sent again? */
bool retry_should(const struct retry_policy *p, unsigned attempts,
		  bool idempotent, bool retryable);

/* Milliseconds to wait after the attempts-th failure: a uniform pick in
 * [d/2, d] with d = min(max_ms, base_ms * 2^(attempts-1)). rng is the
 * caller's xorshift state (nonzero), advanced on each call. */
unsigned retry_delay_ms(const struct retry_policy *p, unsigned attempts,
			uint64_t *rng);

#endif
