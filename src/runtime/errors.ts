// Two kinds of error. Temporary ones (network, conflict, throttling, server errors) are
// retried with capped backoff; permanent ones (the request itself is refused: forbidden,
// invalid) are reported (a condition, an Event) and retried only slowly, never hammered.
import * as z from 'zod';
import { ApiError, statusMessage } from '../kube/api-error.ts';

/** The API server's (or a proxy's) answer in `err` or its causes. */
function answerOf(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  const cause = err instanceof Error ? err.cause : undefined;
  return cause === undefined ? undefined : answerOf(cause);
}

export function httpStatus(err: unknown): number | undefined {
  return answerOf(err)?.code;
}

/**
 * The one reading of "it is gone": the API server's own answer that an object of `resource`
 * (e.g. "rolebindings") is not there, a 404 with its Status (reason NotFound, details naming the
 * object, details.kind the resource when given). Any other 404 says nothing about the object:
 * a proxy's HTML page for a path it cannot route (a misconfigured Rancher /k8s/clusters/…
 * prefix), a NotFound about something else (its namespace), or an API the server does not
 * serve (no details). Acting on it as gone would forget a grant, a timer or an index that is
 * still there; isTemporary() retries the first kind.
 */
export function isNotFoundStatus(err: unknown, resource: string): boolean {
  const answer = answerOf(err);
  const status = notFoundStatus.safeParse(answer?.body);
  return answer?.code === 404 && status.success && status.data.details.name !== '' && (status.data.details.kind ?? resource) === resource;
}

/**
 * A 404 about no object: nothing at that path serves the resource. The API server answers a
 * path it does not serve (DebugGrants where the CRD is not installed, or a server address with
 * a wrong path prefix) with a plain-text "404 page not found", no Status; a NotFound Status that
 * names no object says the same. A NotFound naming an object (it, or its namespace, is missing)
 * is not this.
 */
export function isUnservedPath(err: unknown): boolean {
  const answer = answerOf(err);
  return answer?.code === 404 && !namesAnObject.safeParse(answer.body).success;
}

const namesAnObject = z.object({ kind: z.literal('Status'), details: z.object({ name: z.string().min(1) }) });
const notFoundStatus = z.object({
  kind: z.literal('Status'),
  reason: z.literal('NotFound'),
  details: z.object({ name: z.string(), kind: z.string().optional() }),
});
const anyStatus = z.object({ kind: z.literal('Status') });
export const isConflict = (err: unknown): boolean => httpStatus(err) === 409;
export const isForbidden = (err: unknown): boolean => httpStatus(err) === 403;

export function isTemporary(err: unknown): boolean {
  const code = httpStatus(err);
  if (code === undefined) return true; // network errors, timeouts
  // 401: the refused token is dropped (ClusterAccess.refused), so the retry reads or fetches a fresh one.
  if (code === 401 || code === 408 || code === 409 || code === 429 || code >= 500) return true;
  // A 404 that is no Status came from something between us and the API server (a proxy's page):
  // the request did not reach it, and may well once the path is routed again.
  return code === 404 && !anyStatus.safeParse(answerOf(err)?.body).success;
}

/** The API server refused the request as such (400, 403, its own 404, 422…): asking again at once changes nothing. */
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
