// The initial list as a stream (WatchList, KEP-3157), as client-go's reflector reads it: a
// watch with `sendInitialEvents=true&resourceVersionMatch=NotOlderThan` answers every object
// from the API server's watch cache as an ADDED event, then a BOOKMARK annotated
// `k8s.io/initial-events-end: "true"`; the informer is synced at that bookmark's
// resourceVersion and the same stream carries on as its watch. Nothing is paged, so no
// continue token can expire under a slow reader (a paged list reads one etcd revision, and
// the API server compacts etcd every 5 minutes: at 150,000 pods a CPU-starved operator never
// finished one). This file decides what a failed stream leads to; informer.ts does it.
import { ApiError } from '../kube/api-error.ts';
import { retryAfterMs } from '../kube/retry-after.ts';
import { apiMessage, httpStatus } from './errors.ts';

export const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/** The bookmark that ends the initial events (a bookmark without the annotation is an ordinary one). */
export function endsInitialEvents(type: string, raw: unknown): boolean {
  if (type !== 'BOOKMARK') return false;
  const annotations = (raw as { metadata?: { annotations?: Record<string, unknown> } } | undefined)?.metadata?.annotations;
  return annotations?.[INITIAL_EVENTS_END] === 'true';
}

/** A watch stream's ERROR event (a Status) as the error a refused request throws, so both are read alike. */
export function watchEventError(raw: unknown): ApiError {
  const code = (raw as { code?: unknown } | undefined)?.code;
  return new ApiError(typeof code === 'number' ? code : 500, 'watch', raw);
}

/** Initial streams that failed in a row before one paged list is tried instead. */
export const STREAM_FAILURES_BEFORE_LIST = 3;

/** When the API server gives no retryAfterSeconds with "Too large resource version" or "storage is (re)initializing". */
const CACHE_NOT_READY_WAIT_MS = 1000;

export type AfterStreamFailure =
  /** Stream again from the most recent state (resourceVersion ""), after `delayMs`, without counting it as a failure. */
  | { next: 'stream-again'; delayMs: number; reason: string }
  /** The API server does not stream initial lists (older than 1.27, or its WatchList gate off): lists in pages from now on. */
  | { next: 'list-from-now-on' }
  /** Streams keep failing: one paged list instead, then streams again. */
  | { next: 'list-once' }
  /** A failure like any other: back off (honouring Retry-After), then stream again. */
  | { next: 'back-off' };

/**
 * What follows a failed initial stream, as client-go's reflector decides, with one change:
 * - 410 (the resourceVersion asked for is too old; never expected with NotOlderThan) or "Too large resource version" (504: the
 *   watch cache has not caught up with etcd yet; its retryAfterSeconds says when to ask
 *   again): stream again from the most recent state;
 * - 429 "storage is (re)initializing": the watch cache is being filled (a CRD just installed,
 *   the API server just started); a paged list would be served from etcd, but the cache is
 *   what scales: stream again after its Retry-After, as no failure;
 * - 400 or 422: the API server refuses `sendInitialEvents` or `resourceVersionMatch` on a
 *   watch (gate off, or a server from before WatchList): paged lists from now on;
 * - 401 or 403: back off; a paged list needs the same permission (the reason names it);
 * - anything else (network, 429, 5xx, a stream cut or stalled): back off and stream again,
 *   and after `STREAM_FAILURES_BEFORE_LIST` such failures in a row try one paged list.
 *   client-go falls back to a paged list at the first such failure ("making progress is
 *   better than deadlocking"); a few more tries first, because at the sizes streaming is for
 *   a paged list may never finish (the 410 above), so it is the last resort, not the first.
 * `failuresInARow` counts this failure too; `fromLatest`: the stream asked for the most recent state.
 */
export function afterStreamFailure(err: unknown, failuresInARow: number, fromLatest: boolean): AfterStreamFailure {
  const status = httpStatus(err);
  // From the latest state a 410 is not the resourceVersion's fault: asking again at once would spin.
  if (status === 410 && !fromLatest) return { next: 'stream-again', delayMs: 0, reason: 'resourceVersion expired (410)' };
  if (isTooLargeResourceVersion(err)) {
    return { next: 'stream-again', delayMs: retryAfterMs(err) ?? CACHE_NOT_READY_WAIT_MS, reason: 'watch cache behind etcd (Too large resource version)' };
  }
  if (isCacheInitializing(err)) {
    return { next: 'stream-again', delayMs: retryAfterMs(err) ?? CACHE_NOT_READY_WAIT_MS, reason: 'watch cache (re)initializing (429)' };
  }
  if (status === 400 || status === 422) return { next: 'list-from-now-on' };
  if (status === 401 || status === 403) return { next: 'back-off' };
  return failuresInARow >= STREAM_FAILURES_BEFORE_LIST ? { next: 'list-once' } : { next: 'back-off' };
}

/** The API server's answer that the resourceVersion asked for is newer than its watch cache has (cause ResourceVersionTooLarge, HTTP 504). */
export function isTooLargeResourceVersion(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (!(e instanceof ApiError)) continue;
    const body = e.body as { message?: unknown; details?: { causes?: { reason?: unknown; message?: unknown }[] } } | undefined;
    const causes = Array.isArray(body?.details?.causes) ? body.details.causes : [];
    if (causes.some((c) => c.reason === 'ResourceVersionTooLarge' || c.message === 'Too large resource version')) return true;
    return typeof body?.message === 'string' && body.message.includes('Too large resource version');
  }
  return false;
}

/** The watch cache refusing to serve while it is filled (storage.NewTooManyRequestsError: 429, "storage is (re)initializing"). */
export function isCacheInitializing(err: unknown): boolean {
  return httpStatus(err) === 429 && apiMessage(err).includes('storage is (re)initializing');
}
