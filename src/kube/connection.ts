// How the operator's requests reach the API server.
//
// One connection pool per cluster and user (an undici Agent), reused by every request and
// watch, as client-go keeps one transport: a fresh TCP connect and TLS handshake per request
// would cost both ends (measured with client-node 2.0, which built an Agent per request: API
// server CPU-bound at ~100 grants/s).
//
// Every request has a deadline. One that gets no answer in time fails (a temporary error
// its caller retries) and the connection it rode is retired at once: the next request
// opens a fresh one, so a retry never rides the connection that just failed. The retired
// one is probed (any HTTP answer within PROBE_MS): answered, only that request was slow
// and it is closed gracefully; silent, it is stalled and destroyed, which also ends the
// watches on it (their informers restart on the fresh one) instead of leaving them hung.
import { connectionPool, send, type Dispatcher } from './http-pool.ts';
import type { ClusterAccess } from './kubeconfig.ts';
import { bySignal } from '../runtime/by-signal.ts';

export interface RequestTimeouts {
  /** Any API request (list, apply, status write…); watches are streams and have none. */
  requestMs: number;
  /** With no answer to a RoleBinding delete (the request that ends access) this long, another attempt goes out (src/revocation/revoke-binding.ts). */
  revocationMs: number;
}

export const DEFAULT_TIMEOUTS: RequestTimeouts = { requestMs: 10_000, revocationMs: 500 };

/** How long a retired connection has to answer before it counts as stalled. */
const PROBE_MS = 1_000;
/**
 * How long a pooled connection has to answer its periodic check. Longer than PROBE_MS: a
 * connection nothing failed on is given the benefit of a loaded API server.
 */
const CHECK_ANSWER_MS = 3_000;
/** TCP keepalive: 30 s as client-go (undici's 60 s default can race cloud load balancers' idle timeouts). */
const KEEPALIVE_MS = 30_000;
const USER_AGENT = 'debuggrant-operator';

/** A request that got no answer within its timeout. */
class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

export type ConnectionRetired = (why: { reason: string; stalled?: boolean; server: string }) => void;

/** Per-call options: this request's own timeout, taken when it is sent (after any wait for its turn). */
export interface CallOptions {
  timeoutMs?: () => number;
  /** Asked just before the request is sent (after any wait for its turn): false refuses to send it (NotSentError). */
  wanted?: () => boolean;
}

/** A request not sent because its caller no longer wanted it (CallOptions.wanted): it never reached the server. */
export class NotSentError extends Error {
  override readonly name = 'NotSentError';
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The path below the server, e.g. /api/v1/namespaces/a/pods. */
  path: string;
  query?: Readonly<Record<string, string | undefined>>;
  body?: string;
  contentType?: string;
  accept?: string;
}

export interface HttpAnswer {
  status: number;
  /** Names in lower case. */
  headers: Record<string, string>;
  text: string;
}

/** What a watch needs to open its stream itself: the pooled connection and the request's headers. */
export interface OpenStream {
  dispatcher: Dispatcher;
  url: URL;
  headers: Record<string, string>;
}

export class ApiConnection {
  readonly access: ClusterAccess;
  timeouts: RequestTimeouts = DEFAULT_TIMEOUTS;
  /** Told whenever a connection is replaced (for logs and metrics). */
  onConnectionRetired: ConnectionRetired | undefined;
  private pooled: Dispatcher | undefined;
  /** Pooled connections whose periodic check is under way. */
  private readonly checking = new Set<Dispatcher>();
  private checkTimer: NodeJS.Timeout | undefined;

  constructor(access: ClusterAccess) {
    this.access = access;
  }

  /** The API server's address, as the kubeconfig names it. */
  get server(): string {
    return this.access.server;
  }

  /** Per-call options giving one request its own timeout. */
  within(timeoutMs: number): CallOptions {
    return { timeoutMs: () => timeoutMs };
  }

  /**
   * Per-call options for a request that must not outlive `deadline` (epoch ms): its timeout is
   * min(request timeout, deadline − now), taken when it is sent (after any wait for its turn).
   */
  until(deadline: number, now: () => number): CallOptions {
    return { timeoutMs: () => Math.max(1, Math.min(this.timeouts.requestMs, deadline - now())) };
  }

  url(path: string, query: Readonly<Record<string, string | undefined>> = {}): URL {
    const url = new URL(this.access.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    return url;
  }

  /** The pooled connection and authenticated headers for a request (a watch streams on them itself). */
  async open(req: Pick<HttpRequest, 'path' | 'query' | 'accept' | 'contentType'>): Promise<OpenStream> {
    const headers: Record<string, string> = { ...(await this.access.headers()), 'user-agent': USER_AGENT, accept: req.accept ?? 'application/json' };
    if (req.contentType) headers['content-type'] = req.contentType;
    return { dispatcher: this.dispatcher(), url: this.url(req.path, req.query), headers };
  }

  /** One request and its whole answer, within its deadline (the request timeout unless `options` says otherwise). */
  async request(req: HttpRequest, options?: CallOptions): Promise<HttpAnswer> {
    const { dispatcher, url, headers } = await this.open(req);
    if (options?.wanted?.() === false) throw new NotSentError(`${req.method} ${req.path}: no longer wanted, not sent`);
    const timeoutMs = options?.timeoutMs?.() ?? this.timeouts.requestMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    try {
      // Settled by the deadline even should the client miss its abort (runtime/by-signal.ts).
      const res = await bySignal(
        send(dispatcher, {
          origin: url.origin,
          path: url.pathname + url.search,
          method: req.method,
          headers,
          body: req.body,
          signal: deadline,
        }),
        deadline,
      );
      // The whole body within the deadline too: a connection can stall mid-response.
      const text = await bySignal(res.body.text(), deadline);
      if (res.statusCode === 401) this.access.refused?.();
      return { status: res.statusCode, headers: flatHeaders(res.headers), text };
    } catch (err) {
      const timedOut = deadline.aborted;
      this.retire(dispatcher, timedOut ? 'request timed out' : `request failed: ${err instanceof Error ? err.message : String(err)}`, timedOut);
      if (timedOut) throw new RequestTimeoutError(`${req.method} ${url.pathname} got no answer within ${String(timeoutMs)} ms`, { cause: err });
      throw err;
    }
  }

  /**
   * Checks the pooled connection every `everyMs` while requests are idle too: one that gives
   * no answer within CHECK_ANSWER_MS is destroyed, which ends the watches it carries (their
   * informers resume on a fresh one). Without it, a connection that stalls while nothing is
   * sent (a hung peer or load balancer, a dropped NAT entry: TCP keepalive is answered by
   * whatever sits in between) goes unnoticed until the next request times out or a watch's
   * idle timer fires, and meanwhile no event arrives. client-go's answer is the same in
   * spirit: an HTTP/2 PING after 30 s without a frame, the connection closed when no ack
   * comes within 15 s. (undici's own periodic PING has no ack timeout.)
   */
  checkConnections(everyMs: number): void {
    clearInterval(this.checkTimer);
    this.checkTimer = setInterval(() => {
      this.checkPooled();
    }, everyMs);
    this.checkTimer.unref();
  }

  /**
   * New requests open a fresh connection; the current one keeps carrying what it has (a slow
   * request included) unless a probe finds it stalled, which destroys it. For a request that
   * is late but must not give up its place (src/revocation/revoke-binding.ts).
   */
  freshConnection(reason: string): void {
    if (this.pooled) this.retire(this.pooled, reason, true);
  }

  /** Done with this connection: no more checks, the pooled connection closed gracefully. */
  close(): void {
    clearInterval(this.checkTimer);
    void this.pooled?.close().catch(() => undefined);
    this.pooled = undefined;
  }

  /** The pooled connection, opened afresh (certificate files read again) after one was retired. */
  private dispatcher(): Dispatcher {
    this.pooled ??= connectionPool({ connect: { ...this.access.tls(), keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS } });
    return this.pooled;
  }

  private checkPooled(): void {
    const dispatcher = this.pooled;
    if (!dispatcher || this.checking.has(dispatcher)) return;
    this.checking.add(dispatcher);
    void answers(dispatcher, this.server, CHECK_ANSWER_MS).then((alive) => {
      this.checking.delete(dispatcher);
      if (alive || this.pooled !== dispatcher) return;
      this.pooled = undefined;
      this.discard(dispatcher, `idle check got no answer within ${String(CHECK_ANSWER_MS)} ms`, true);
    });
  }

  /** New requests get a fresh connection; the old one is closed, or destroyed if it is stalled. */
  private retire(dispatcher: Dispatcher, reason: string, probe: boolean): void {
    if (this.pooled !== dispatcher) return; // already retired by another failed request
    this.pooled = undefined;
    if (!probe) {
      this.discard(dispatcher, reason, undefined);
      return;
    }
    void answers(dispatcher, this.server, PROBE_MS).then((alive) => {
      this.discard(dispatcher, reason, !alive);
    });
  }

  /** Out of the pool already: closed gracefully, or destroyed (with whatever it carries) when stalled. */
  private discard(dispatcher: Dispatcher, reason: string, stalled: boolean | undefined): void {
    this.onConnectionRetired?.({ reason, server: this.server, ...(stalled === undefined ? {} : { stalled }) });
    const done = stalled ? dispatcher.destroy(new Error(`connection to ${this.server} stalled: ${reason}; no answer to a probe`)) : dispatcher.close();
    void done.catch(() => undefined);
  }
}

/** Response headers as one string each (repeated ones joined, as HTTP allows). */
export function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) flat[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return flat;
}

/** Whether the connection still carries an HTTP answer (any status) within `timeoutMs`. */
async function answers(dispatcher: Dispatcher, server: string, timeoutMs: number): Promise<boolean> {
  try {
    const url = new URL(`${server.replace(/\/$/, '')}/livez`);
    const res = await send(dispatcher, { origin: url.origin, path: url.pathname, method: 'GET', signal: AbortSignal.timeout(timeoutMs) });
    await res.body.text();
    return true;
  } catch {
    return false;
  }
}
