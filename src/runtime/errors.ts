// Two kinds of error. Temporary ones (network, conflict, throttling, server errors) are
// retried with backoff; permanent ones are reported (a Denied grant) and not retried.
import { ApiException } from '@kubernetes/client-node';

export function httpStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const cause = err instanceof Error ? err.cause : undefined;
  return cause === undefined ? undefined : httpStatus(cause);
}

export const isNotFound = (err: unknown): boolean => httpStatus(err) === 404;
export const isConflict = (err: unknown): boolean => httpStatus(err) === 409;

export function isTemporary(err: unknown): boolean {
  const code = httpStatus(err);
  if (code === undefined) return true; // network errors, timeouts
  return code === 409 || code === 429 || code >= 500;
}

/** The API server's own message from a failed call, for logs and status. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        const parsed = JSON.parse(body) as { message?: unknown };
        if (typeof parsed.message === 'string') return parsed.message;
      } catch { /* not JSON: use as is */ }
      return body;
    }
    if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return body.message;
    return `HTTP ${String(err.code)}`;
  }
  return err instanceof Error ? err.message : String(err);
}
