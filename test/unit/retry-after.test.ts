// Retry-After, read where responses are read (src/kube/retry-after.ts), and the one delay
// every retry of the operator takes from it (src/runtime/backoff.ts retryDelay).
import { ApiError, parseBody } from '../../src/kube/api-error.ts';
import { MAX_RETRY_AFTER_MS, parseRetryAfter, retryAfterMs } from '../../src/kube/retry-after.ts';
import { exponentialBackoff, retryDelay } from '../../src/runtime/backoff.ts';

const NOW = Date.parse('2026-12-05T01:00:00Z');
/** An answer as the client (rest.ts, list-watch.ts) turns it into an error: a JSON body parsed, headers lower-cased. */
const answer = (code: number, headers: Record<string, string>, body: unknown = ''): ApiError =>
  new ApiError(code, `HTTP ${String(code)}`, typeof body === 'string' ? parseBody(body) : body, headers);
const tooMany = (seconds: string): ApiError => answer(429, { 'retry-after': seconds });

describe('Retry-After', () => {
  test.each([
    ['1', 1000],
    ['0', 0],
    [' 30 ', 30_000],
    ['Sat, 05 Dec 2026 01:00:02 GMT', 2000],
    ['Sat, 05 Dec 2026 00:59:00 GMT', 0],
    ['soon', undefined],
    ['-1', undefined],
    ['1.5', undefined],
    ['', undefined],
  ])('%j means %p ms', (value, ms) => {
    expect(parseRetryAfter(value, NOW)).toBe(ms);
  });

  test('from the header of a 429 or 503, else from the Status body, through wrapping errors; nothing without either', () => {
    expect(retryAfterMs(tooMany('1'), NOW)).toBe(1000);
    expect(retryAfterMs(answer(503, { 'retry-after': '3' }), NOW)).toBe(3000);
    const status = { kind: 'Status', code: 429, reason: 'TooManyRequests', details: { retryAfterSeconds: 2 } };
    expect(retryAfterMs(answer(429, {}, JSON.stringify(status)), NOW)).toBe(2000);
    expect(retryAfterMs(answer(429, {}, status), NOW)).toBe(2000);
    expect(retryAfterMs(new Error('reconcile failed', { cause: new Error('index write', { cause: tooMany('4') }) }), NOW)).toBe(4000);
    expect(retryAfterMs(answer(429, {}, 'not json'), NOW)).toBeUndefined();
    expect(retryAfterMs(answer(500, {}), NOW)).toBeUndefined();
    expect(retryAfterMs(new TypeError('fetch failed'), NOW)).toBeUndefined();
  });

  test('an absurd wait is capped, so a broken header cannot park a revocation for hours', () => {
    expect(retryAfterMs(tooMany('86400'), NOW)).toBe(MAX_RETRY_AFTER_MS);
  });
});

describe('retryDelay: the one retry delay', () => {
  const policy = { baseMs: 100, maxMs: 30_000 };

  test('without Retry-After it is the backoff', () => {
    for (const attempt of [1, 2, 5, 20]) expect(retryDelay(new Error('boom'), attempt, policy)).toBe(exponentialBackoff(attempt, policy));
  });

  test('with Retry-After it is never sooner than asked, jittered over [asked, 1.5 × asked]', () => {
    expect(retryDelay(tooMany('1'), 1, { ...policy, jitter: () => 0 })).toBe(1000);
    expect(retryDelay(tooMany('1'), 1, { ...policy, jitter: () => 1 })).toBe(1500);
    const spread = Array.from({ length: 200 }, () => retryDelay(tooMany('2'), 1, policy));
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...spread)).toBeLessThanOrEqual(3000);
    expect(new Set(spread).size).toBeGreaterThan(50);
  });

  test('a longer backoff than the server asked for stays', () => {
    expect(retryDelay(tooMany('1'), 10, policy)).toBe(exponentialBackoff(10, policy));
  });
});
