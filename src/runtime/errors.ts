// Two kinds of error. Temporary ones (network, conflict, throttling, server errors) are
// retried with capped backoff; permanent ones (the request itself is refused: forbidden,
// invalid) are reported (a condition, an Event) and retried only slowly, never hammered.
import * as z from 'zod';
import { ApiError, statusMessage } from '../kube/api-error.ts';

export function httpStatus(err: unknown): number | undefined {
  if (err instanceof ApiError) return err.code;
  const cause = err instanceof Error ? err.cause : undefined;
  return cause === undefined ? undefined : httpStatus(cause);
}

export const isNotFound = (err: unknown): boolean => httpStatus(err) === 404;

/**
 * The API server's own answer that a `resource` (e.g. "rolebindings") is not there: a 404 with
 * its Status (kind Status, reason NotFound, details.kind the resource when given). A 404 from
 * anything in between (a proxy's HTML page for a path it cannot route) says nothing about it.
 */
export function isNotFoundStatus(err: unknown, resource: string): boolean {
  if (!(err instanceof ApiError)) return err instanceof Error && err.cause !== undefined && isNotFoundStatus(err.cause, resource);
  const status = notFoundStatus.safeParse(err.body);
  return err.code === 404 && status.success && (status.data.details?.kind ?? resource) === resource;
}

const notFoundStatus = z.object({ kind: z.literal('Status'), reason: z.literal('NotFound'), details: z.object({ kind: z.string().optional() }).optional() });
export const isConflict = (err: unknown): boolean => httpStatus(err) === 409;
export const isForbidden = (err: unknown): boolean => httpStatus(err) === 403;

export function isTemporary(err: unknown): boolean {
  const code = httpStatus(err);
  if (code === undefined) return true; // network errors, timeouts
  // 401: the refused token is dropped (ClusterAccess.refused), so the retry reads or fetches a fresh one.
  return code === 401 || code === 408 || code === 409 || code === 429 || code >= 500;
}

/** The API server refused the request as such (400, 403, 404, 422…): asking again at once changes nothing. */
export const isPermanent = (err: unknown): boolean => !isTemporary(err);

/** The API server's own message from a failed call, for logs and status. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiError) {
    const body = err.body;
    if (typeof body === 'string') return body || `HTTP ${String(err.code)}`;
    return statusMessage(body) ?? `HTTP ${String(err.code)}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The API server's message, and the cause's when the error wraps one. */
export function describeError(err: unknown): string {
  const cause = err instanceof Error && err.cause !== undefined ? `: ${apiMessage(err.cause)}` : '';
  return `${apiMessage(err)}${cause}`;
}
