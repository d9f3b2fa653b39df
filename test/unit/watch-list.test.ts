// What a failed initial stream (WatchList) leads to, and which bookmark ends the initial
// events: the pure decisions of src/runtime/watch-list.ts. The Status bodies are the ones
// kube-apiserver 1.37 answers (the integration test test/integration/watch-list.test.ts
// gets them from the real server).
import { ApiError } from '../../src/kube/api-error.ts';
import {
  STREAM_FAILURES_BEFORE_LIST,
  afterStreamFailure,
  endsInitialEvents,
  isTooLargeResourceVersion,
  watchEventError,
} from '../../src/runtime/watch-list.ts';

const status = (code: number, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  new ApiError(code, 'GET /api/v1/pods', { kind: 'Status', code, ...body }, headers);
const tooLarge = {
  reason: 'Timeout',
  message: 'Too large resource version: 900, current: 850',
  details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
};
const gateOff = {
  reason: 'Invalid',
  message:
    'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
};
const socket = () => Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });

describe('endsInitialEvents', () => {
  test('only a BOOKMARK annotated k8s.io/initial-events-end: "true"', () => {
    const annotated = (value: unknown) => ({ metadata: { resourceVersion: '10', annotations: { 'k8s.io/initial-events-end': value } } });
    expect(endsInitialEvents('BOOKMARK', annotated('true'))).toBe(true);
    expect(endsInitialEvents('BOOKMARK', annotated('false'))).toBe(false);
    expect(endsInitialEvents('BOOKMARK', annotated(true))).toBe(false);
    expect(endsInitialEvents('BOOKMARK', { metadata: { resourceVersion: '10' } })).toBe(false);
    expect(endsInitialEvents('ADDED', annotated('true'))).toBe(false);
    expect(endsInitialEvents('BOOKMARK', undefined)).toBe(false);
  });
});

describe('afterStreamFailure', () => {
  test('the API server refuses sendInitialEvents (WatchList gate off: 422; older servers: 400): paged lists from now on', () => {
    expect(afterStreamFailure(status(422, gateOff), 1, false)).toEqual({ next: 'list-from-now-on' });
    expect(afterStreamFailure(status(400, { reason: 'BadRequest', message: 'resourceVersionMatch is forbidden for watch' }), 1, false)).toEqual({
      next: 'list-from-now-on',
    });
  });

  test('"Too large resource version" (HTTP 504 or a watch ERROR event): again from the most recent state after its retryAfterSeconds, or 1 s', () => {
    expect(afterStreamFailure(status(504, tooLarge), 1, false)).toMatchObject({ next: 'stream-again', delayMs: 1000 });
    expect(afterStreamFailure(status(504, tooLarge, { 'retry-after': '3' }), 1, true)).toMatchObject({ next: 'stream-again', delayMs: 3000 });
    expect(afterStreamFailure(watchEventError({ kind: 'Status', code: 504, ...tooLarge }), 1, false)).toMatchObject({ next: 'stream-again', delayMs: 1000 });
    const noHint = { reason: 'Timeout', message: 'Too large resource version: 900, current: 850' };
    expect(afterStreamFailure(status(504, noHint), 1, false)).toMatchObject({ next: 'stream-again', delayMs: 1000 });
    // Also past the failure count: the cache catching up is no failure of the stream.
    expect(afterStreamFailure(status(504, tooLarge), STREAM_FAILURES_BEFORE_LIST + 2, false)).toMatchObject({ next: 'stream-again' });
  });

  test('429 "storage is (re)initializing" (the watch cache being filled: a CRD just installed): again after its Retry-After, as no failure', () => {
    const initializing = status(
      429,
      { reason: 'TooManyRequests', message: 'storage is (re)initializing', details: { retryAfterSeconds: 1 } },
      { 'retry-after': '1' },
    );
    expect(afterStreamFailure(initializing, 1, false)).toMatchObject({ next: 'stream-again', delayMs: 1000 });
    expect(afterStreamFailure(initializing, STREAM_FAILURES_BEFORE_LIST + 1, false)).toMatchObject({ next: 'stream-again' });
    // Priority and fairness's 429 is a failure like any other.
    const busy = status(429, { reason: 'TooManyRequests', message: 'Too many requests, please try again later.', details: { retryAfterSeconds: 1 } });
    expect(afterStreamFailure(busy, 1, false)).toEqual({ next: 'back-off' });
  });

  test('410: again at once from the most recent state; from the most recent state already, a failure (no spinning)', () => {
    const gone = watchEventError({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 20 (30)' });
    expect(afterStreamFailure(gone, 1, false)).toMatchObject({ next: 'stream-again', delayMs: 0 });
    expect(afterStreamFailure(gone, 1, true)).toEqual({ next: 'back-off' });
  });

  test('401 and 403: back off, never a paged list (it needs the same permission)', () => {
    const forbidden = status(403, { reason: 'Forbidden', message: 'pods is forbidden: User "op" cannot watch resource "pods"' });
    expect(afterStreamFailure(forbidden, 1, false)).toEqual({ next: 'back-off' });
    expect(afterStreamFailure(forbidden, 10, false)).toEqual({ next: 'back-off' });
    expect(afterStreamFailure(status(401, { reason: 'Unauthorized' }), 10, false)).toEqual({ next: 'back-off' });
  });

  test(`other failures (network, 429, 5xx, a stream cut): back off; at the ${String(STREAM_FAILURES_BEFORE_LIST)}rd in a row, one paged list`, () => {
    const busy = status(429, { reason: 'TooManyRequests', details: { retryAfterSeconds: 1 } });
    const internal = status(500, { reason: 'InternalError', message: 'etcdserver: request timed out' });
    for (const err of [socket(), busy, internal, new Error('the API server ended the initial events before their end bookmark')]) {
      expect(afterStreamFailure(err, 1, false)).toEqual({ next: 'back-off' });
      expect(afterStreamFailure(err, STREAM_FAILURES_BEFORE_LIST - 1, false)).toEqual({ next: 'back-off' });
      expect(afterStreamFailure(err, STREAM_FAILURES_BEFORE_LIST, false)).toEqual({ next: 'list-once' });
    }
  });
});

describe('isTooLargeResourceVersion', () => {
  test('by the cause the API server gives, by its message on older servers, through cause chains; not other timeouts', () => {
    expect(isTooLargeResourceVersion(status(504, tooLarge))).toBe(true);
    expect(isTooLargeResourceVersion(new Error('watch failed', { cause: status(504, tooLarge) }))).toBe(true);
    expect(isTooLargeResourceVersion(status(504, { reason: 'Timeout', message: 'Too large resource version: 5, current: 4' }))).toBe(true);
    expect(isTooLargeResourceVersion(status(504, { reason: 'Timeout', message: 'request did not complete within 60s' }))).toBe(false);
    expect(isTooLargeResourceVersion(socket())).toBe(false);
  });
});
