// The one backoff: base · 2^(attempt−1), capped; optionally jittered into [half, full] of that
// (client-go's workqueue default is the same doubling with a cap).
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
