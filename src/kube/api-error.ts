// The API server's refusal of a request: its HTTP status, its answer's body (a Status for
// errors: reason, message, details.retryAfterSeconds) and its headers (Retry-After). What
// src/runtime/errors.ts classifies and src/kube/retry-after.ts reads.
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** The HTTP status code. */
  readonly code: number;
  /** The answer's body: parsed JSON (a Status) when it was JSON, else its text. */
  readonly body: unknown;
  /** The answer's headers, names in lower case. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: number, request: string, body: unknown, headers: Record<string, string> = {}) {
    super(`HTTP ${String(code)} from ${request}${statusMessage(body) ? `: ${statusMessage(body) ?? ''}` : ''}`);
    this.code = code;
    this.body = body;
    this.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  }
}

/** The message of a Status body, if it is one. */
export function statusMessage(body: unknown): string | undefined {
  return body !== null && typeof body === 'object' && 'message' in body && typeof body.message === 'string' ? body.message : undefined;
}

/** A body as received: JSON when it parses, else the text (an HTML error page of a proxy, say). */
export function parseBody(text: string): unknown {
  if (text === '') return '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
