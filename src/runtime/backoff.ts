// The one backoff: base · 2^(attempt−1), capped; optionally jittered into [half, full] of that
// (client-go's workqueue default is the same doubling with a cap).
import { retryAfterMs } from '../kube/retry-after.ts';

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** Spread retries of many keys apart: a uniform delay in [d/2, d]. */
  jitter?: () => number;
}

/** The delay before attempt `attempt + 1`, after `attempt` failures (attempt ≥ 1). */
export function exponentialBackoff(attempt: number, policy: BackoffPolicy): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return policy.jitter ? Math.round(exp / 2 + policy.jitter() * (exp / 2)) : exp;
}

/**
 * The delay before retrying after `err`, everywhere the operator retries (work queue,
 * informers, deadline revocations): the backoff, but never sooner than the API server asked
 * (Retry-After on a 429 or 503), spread over [asked, 1.5 × asked] so that the clients it told
 * the same second do not all come back in the same instant.
 */
export function retryDelay(err: unknown, attempt: number, policy: BackoffPolicy): number {
  const backoff = exponentialBackoff(attempt, policy);
  const asked = retryAfterMs(err);
  if (asked === undefined) return backoff;
  return Math.max(backoff, Math.round(asked * (1 + 0.5 * (policy.jitter ?? Math.random)())));
}
