// Why a request to the API server failed, in words an operator on call can act on:
// "connection refused", "TLS: certificate has expired", "401: credentials refused", or the
// API server's own 403 message (it names the verb, resource and scope that are missing).
import { apiMessage, httpStatus } from '../runtime/errors.ts';

/** Node's and OpenSSL's error codes for a failed TLS handshake or certificate check (the one list: the CLI reads it too). */
export const isTlsErrorCode = (code: string): boolean => /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|ALTNAME/.test(code);

const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no response in time',
  UND_ERR_BODY_TIMEOUT: 'response stalled',
  UND_ERR_SOCKET: 'connection closed by the other side',
};

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
}

// Duck-typed, not instanceof: errors from Node's sockets may come from another realm (jest's VM).
const asErrorLike = (e: unknown): ErrorLike | undefined => (e !== null && typeof e === 'object' ? e : undefined);

function errorCode(err: unknown): { code: string; message: string } | undefined {
  for (let e = asErrorLike(err), depth = 0; e && depth < 5; e = asErrorLike(e.cause), depth++) {
    if (typeof e.code === 'string') return { code: e.code, message: typeof e.message === 'string' ? e.message : e.code };
  }
  return undefined;
}

export function describeFailure(err: unknown, server: string): string {
  const status = httpStatus(err);
  if (status === 401)
    return `401 Unauthorized from ${server}: the API server refused the operator's credentials (expired or revoked token, wrong client certificate)`;
  if (status === 403) return `403 Forbidden from ${server}: ${apiMessage(err)}`;
  if (status !== undefined) return `HTTP ${String(status)} from ${server}: ${apiMessage(err)}`;
  const found = errorCode(err);
  if (found && isTlsErrorCode(found.code)) return `TLS failure talking to ${server}: ${found.message} (${found.code})`;
  if (found && NETWORK[found.code]) return `${NETWORK[found.code] ?? ''} (${server}): ${found.message}`;
  const message = asErrorLike(err)?.message;
  return `${server}: ${typeof message === 'string' ? message : String(err)}`;
}
