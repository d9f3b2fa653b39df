// How the operator's requests reach the API server.
//
// Two connection pools per cluster and user (undici Agents), one for requests and one for
// watches, each reused by all of its kind, as client-go keeps one transport: a fresh TCP
// connect and TLS handshake per request would cost both ends (measured with client-node 2.0,
// which built an Agent per request: API server CPU-bound at ~100 grants/s). Watches have their
// own because a connection the API server drains (HTTP/2 GOAWAY: a restart, --goaway-chance, a
// proxy's request limit) keeps the requests undici had queued on it until every stream still
// open there ends: behind watches (minutes), they waited out their deadline; behind requests
// alone, only until those are answered.
//
// Every request has a deadline. One that gets no answer in time fails (a temporary error
// its caller retries) and the connection it rode is retired at once: the next request
// opens a fresh one, so a retry never rides the connection that just failed. The retired
// one is probed (any HTTP answer within PROBE_MS): answered, only that request was slow
// and it is closed gracefully; silent, it is stalled and destroyed, which also ends the
// watches on it (their informers restart on the fresh one) instead of leaving them hung.
//
// Probes carry the operator's credentials. The API server answers an anonymous request on an
// HTTP/2 connection with GOAWAY (Kubernetes' UnauthenticatedHTTP2DOSMitigation, on since
// 1.29), which drains the whole connection; undici then holds the requests it had queued on
// it until every stream still open there ends, the watches' included, so they waited out
// their 10 s deadline (docs/benchmark.md, "Session 4: the HTTP/2 stall was our own probe").
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

/** Which pool a request rides: ordinary requests, or watches (streams that stay open for minutes). */
export type Lane = 'requests' | 'watches';
const LANES: readonly Lane[] = ['requests', 'watches'];

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
  /** The pooled connections, by lane. */
  private readonly pooled = new Map<Lane, Dispatcher>();
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

  /** The pooled connection of `lane` and authenticated headers for a request (a watch streams on them itself). */
  async open(req: Pick<HttpRequest, 'path' | 'query' | 'accept' | 'contentType'>, lane: Lane = 'requests'): Promise<OpenStream> {
    const headers = await this.headers(req);
    return { dispatcher: this.dispatcher(lane), url: this.url(req.path, req.query), headers };
  }

  /** The request's headers, authenticated. */
  private async headers(req: Pick<HttpRequest, 'accept' | 'contentType'>): Promise<Record<string, string>> {
    const headers: Record<string, string> = { ...(await this.access.headers()), 'user-agent': USER_AGENT, accept: req.accept ?? 'application/json' };
    if (req.contentType) headers['content-type'] = req.contentType;
    return headers;
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
        send(dispatcher, { origin: url.origin, path: url.pathname + url.search, method: req.method, headers, body: req.body, signal: deadline }),
        deadline,
      );
      // The whole body within the deadline too: a connection can stall mid-response.
      const text = await bySignal(res.body.text(), deadline);
      if (res.statusCode === 401) this.access.refused?.();
      return { status: res.statusCode, headers: flatHeaders(res.headers), text };
    } catch (err) {
      const timedOut = deadline.aborted;
      // A connection the API server drains is no failed connection: undici sends new requests on a fresh one already.
      if (!refusedByDrain(err))
        this.retire(dispatcher, timedOut ? 'request timed out' : `request failed: ${err instanceof Error ? err.message : String(err)}`, timedOut);
      if (timedOut) throw new RequestTimeoutError(`${req.method} ${url.pathname} got no answer within ${String(timeoutMs)} ms`, { cause: err });
      throw err;
    }
  }

  /**
   * Checks the pooled connections every `everyMs` while requests are idle too: one that gives
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
      for (const lane of LANES) this.checkPooled(lane, CHECK_ANSWER_MS, 'idle check');
    }, everyMs);
    this.checkTimer.unref();
  }

  /**
   * New requests open a fresh connection; the current one keeps carrying what it has (a slow
   * request included) unless a probe finds it stalled, which destroys it. For a request that
   * is late but must not give up its place (src/revocation/revoke-binding.ts).
   */
  freshConnection(reason: string): void {
    const dispatcher = this.pooled.get('requests');
    if (dispatcher) this.retire(dispatcher, reason, true);
  }

  /** Done with this connection: no more checks, the pooled connections closed gracefully. */
  close(): void {
    clearInterval(this.checkTimer);
    for (const lane of LANES) {
      void this.pooled
        .get(lane)
        ?.close()
        .catch(() => undefined);
      this.pooled.delete(lane);
    }
  }

  /** The pooled connection of `lane`, opened afresh (certificate files read again) after one was retired. */
  private dispatcher(lane: Lane): Dispatcher {
    let dispatcher = this.pooled.get(lane);
    if (!dispatcher) {
      dispatcher = connectionPool({ connect: { ...this.access.tls(), keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS } });
      this.pooled.set(lane, dispatcher);
    }
    return dispatcher;
  }

  /** A pooled connection that gives no answer within `timeoutMs` is destroyed (and new work opens a fresh one). */
  private checkPooled(lane: Lane, timeoutMs: number, what: string): void {
    const dispatcher = this.pooled.get(lane);
    if (!dispatcher || this.checking.has(dispatcher)) return;
    this.checking.add(dispatcher);
    void this.answers(dispatcher, timeoutMs).then((alive) => {
      this.checking.delete(dispatcher);
      if (alive || this.pooled.get(lane) !== dispatcher) return;
      this.pooled.delete(lane);
      const reason = `${what} got no answer within ${String(timeoutMs)} ms${lane === 'watches' ? " (the watches' connection)" : ''}`;
      this.discard(dispatcher, reason, true);
      // The path to the API server is suspect: the other lane's connection is replaced too. Its own
      // check in the same round may have been answered while it still held a stalled connection
      // (seen: the watches' connection found stalled, the requests' not, and the next request sent
      // on a stalled connection waited out its 10 s deadline; connection-faults.test.ts).
      for (const other of LANES) {
        const beside = other === lane ? undefined : this.pooled.get(other);
        if (beside) this.retire(beside, `${reason}; replaced beside it`, true);
      }
    });
  }

  /**
   * New requests get a fresh connection; the old one is closed, or destroyed if it is stalled.
   * A stalled one says the path to the API server may be: the watches' connection is checked at once.
   */
  private retire(dispatcher: Dispatcher, reason: string, probe: boolean): void {
    const lane = LANES.find((l) => this.pooled.get(l) === dispatcher);
    if (!lane) return; // already retired by another failed request
    this.pooled.delete(lane);
    if (!probe) {
      this.discard(dispatcher, reason, undefined);
      return;
    }
    void this.answers(dispatcher, PROBE_MS).then((alive) => {
      this.discard(dispatcher, reason, !alive);
      if (!alive) for (const other of LANES) if (other !== lane) this.checkPooled(other, PROBE_MS, 'check after a stalled request');
    });
  }

  /**
   * Whether `dispatcher` still carries an HTTP answer (any status) within `timeoutMs`. Sent with
   * the operator's credentials: never anonymously (see the top of this file).
   */
  private async answers(dispatcher: Dispatcher, timeoutMs: number): Promise<boolean> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const headers = await bySignal(this.headers({}), signal);
      const url = this.url('/livez');
      const res = await send(dispatcher, { origin: url.origin, path: url.pathname, method: 'GET', headers, signal });
      await res.body.text();
      return true;
    } catch {
      return false;
    }
  }

  /** Out of the pool already: closed gracefully, or destroyed (with whatever it carries) when stalled. */
  private discard(dispatcher: Dispatcher, reason: string, stalled: boolean | undefined): void {
    this.onConnectionRetired?.({ reason, server: this.server, ...(stalled === undefined ? {} : { stalled }) });
    const done = stalled ? dispatcher.destroy(new Error(`connection to ${this.server} stalled: ${reason}; no answer to a probe`)) : dispatcher.close();
    void done.catch(() => undefined);
  }
}

/**
 * undici's error for a request caught by a graceful GOAWAY (the API server draining the
 * connection) once undici's own replay of it is spent. A temporary error, retried by the caller
 * from a fresh read; not resent here: undici fails with it requests the server did process too
 * (resent, creates came back 409: docs/benchmark.md, session 4). By shape, not `instanceof`: it
 * may come from another realm (jest's VM).
 */
function refusedByDrain(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === 'UND_ERR_INFO' && typeof e.message === 'string' && e.message.includes('"GOAWAY" frame received with code 0');
}

/** Response headers as one string each (repeated ones joined, as HTTP allows). */
export function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) flat[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return flat;
}
