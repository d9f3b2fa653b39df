// What went wrong, in words that name the kubeconfig file, context and server and say what
// to do; not client-node's "fetch failed" or "No active cluster!".
import { httpStatus, apiMessage, isUnservedPath } from '../runtime/errors.ts';
import { isTlsErrorCode } from '../kube/failure.ts';
import { ClusterError, KubeconfigError, type Target } from './connection.ts';

/** The innermost cause's code and message (undici wraps socket and TLS errors in "fetch failed"). */
function rootCause(err: unknown): { code: string; message: string } {
  let e: unknown = err;
  while (e instanceof Error && e.cause !== undefined) e = e.cause;
  const code = e && typeof e === 'object' && 'code' in e ? String(e.code) : '';
  return { code, message: e instanceof Error ? e.message : String(e) };
}

export function describeClusterFailure(err: unknown, t: Target): string {
  const where = `${t.server} (context "${t.context}" of ${t.file})`;
  const status = httpStatus(err);
  if (status === 401) {
    return `the API server at ${where} did not accept the credentials of user "${t.user}": log in again or refresh the token in the kubeconfig`;
  }
  if (status === 403) return `${apiMessage(err)} (as the user of context "${t.context}"; ask an administrator if you need this right)`;
  if (isUnservedPath(err)) {
    // The request, not the body: the API server's plain "404 page not found" names no path.
    const request = err instanceof Error ? err.message : apiMessage(err);
    return `the cluster at ${where} does not serve that API (${request}): install debuggrant (crds/ and config/), check the server address, or pick another --context`;
  }
  if (status !== undefined) return apiMessage(err);
  const cause = rootCause(err);
  if (isTlsErrorCode(cause.code) || /certificate/i.test(cause.message)) {
    return `TLS to ${where} failed: ${cause.message} (${cause.code}); check certificate-authority-data in the kubeconfig`;
  }
  if (
    cause.code === 'ECONNREFUSED' ||
    cause.code === 'ENOTFOUND' ||
    cause.code === 'EHOSTUNREACH' ||
    cause.code === 'ETIMEDOUT' ||
    cause.code === 'ECONNRESET' ||
    cause.code.startsWith('UND_ERR')
  ) {
    return `cannot reach the API server at ${where}: ${cause.message}; check the server address, that the cluster is up, and your network or VPN`;
  }
  return `request to ${where} failed: ${cause.message}`;
}

export function describeFailure(err: unknown): string {
  if (err instanceof ClusterError) return describeClusterFailure(err.cause, err.target);
  if (err instanceof KubeconfigError) return err.message;
  return apiMessage(err);
}
