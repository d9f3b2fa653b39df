// How long the API server asked us to wait before asking again: the Retry-After header of a
// 429 (API Priority and Fairness rejecting or timing out a queued request, the Eviction API
// under a PodDisruptionBudget) or a 503, or the Status body's details.retryAfterSeconds
// when the header is missing. Read here, where responses are read; src/runtime/backoff.ts
// decides the delay from it.
import { ApiError } from './api-error.ts';

/** The longest wait honoured: a broken or hostile header must not park a revocation for hours. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** Retry-After is delta-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) || !/[A-Za-z]/.test(text) ? undefined : Math.max(0, at - now);
}

/** From the Status body (ApiError.body is parsed already). */
function fromBody(status: unknown): number | undefined {
  if (typeof status !== 'object' || status === null || !('details' in status)) return undefined;
  const details = status.details;
  if (typeof details !== 'object' || details === null || !('retryAfterSeconds' in details)) return undefined;
  const seconds = details.retryAfterSeconds;
  return typeof seconds === 'number' && seconds >= 0 ? seconds * 1000 : undefined;
}

/** What the API server's answer asked for (ms, capped at MAX_RETRY_AFTER_MS), found through `cause` chains too. */
export function retryAfterMs(err: unknown, now: number = Date.now()): number | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; e = e instanceof Error ? e.cause : undefined, depth++) {
    if (!(e instanceof ApiError)) continue;
    const header = e.headers['retry-after'];
    const asked = (header === undefined ? undefined : parseRetryAfter(header, now)) ?? fromBody(e.body);
    return asked === undefined ? undefined : Math.min(asked, MAX_RETRY_AFTER_MS);
  }
  return undefined;
}
