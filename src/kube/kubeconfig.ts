// How the operator's requests reach the API server.
//
// One connection per cluster and user, reused by every request and watch: client-node 2.0
// builds a new undici Agent for every request it authenticates, so nothing would ever be
// reused and each call would pay a TCP connect and a TLS handshake on both ends (measured:
// API server CPU-bound at ~100 grants/s). client-go keeps one transport the same way.
//
// Every request has a deadline. One that gets no answer in time fails (a temporary error
// its caller retries) and the connection it rode is retired at once: the next request
// opens a fresh one, so a retry never rides the connection that just failed. The retired
// one is probed (any HTTP answer within PROBE_MS): answered, only that request was slow
// and it is closed gracefully; silent, it is stalled and destroyed, which also ends the
// watches on it (their informers restart on the fresh one) instead of leaving them hung.
import {
  KubeConfig,
  SelfDecodingBody,
  ServerConfiguration,
  ResponseContext,
  createConfiguration,
  setHeaderMiddleware,
  wrapHttpLibrary,
  type ApiConstructor,
  type ApiType,
  type ConfigurationOptions,
  type HttpLibrary,
  type RequestContext,
} from '@kubernetes/client-node';
import { fetch, type Dispatcher } from 'undici';

export interface RequestTimeouts {
  /** Any API request (list, apply, status write…); watches are streams and have none. */
  requestMs: number;
  /** Each attempt of a RoleBinding delete, the request that ends access. */
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
const USER_AGENT = 'debuggrant-operator';

/** A request that got no answer within its timeout. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

export type ConnectionRetired = (why: { reason: string; stalled?: boolean; server: string }) => void;

interface Pooled {
  dispatcher: Dispatcher;
  server: string;
}

export class PooledKubeConfig extends KubeConfig {
  timeouts: RequestTimeouts = DEFAULT_TIMEOUTS;
  /** Told whenever a connection is replaced (for logs and metrics). */
  onConnectionRetired: ConnectionRetired | undefined;
  private readonly pool = new Map<string, Pooled>();
  private readonly http = this.timedHttp(() => this.timeouts.requestMs);
  /** Pooled connections whose periodic check is under way. */
  private readonly checking = new Set<Dispatcher>();
  private checkTimer: NodeJS.Timeout | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return;
    const server = this.getCurrentCluster()?.server ?? '';
    const key = JSON.stringify([this.getCurrentCluster()?.name ?? '', this.getCurrentUser()?.name ?? '', server]);
    const pooled = this.pool.get(key);
    if (pooled) {
      context.setDispatcher(pooled.dispatcher);
      void fresh.close();
    } else {
      this.pool.set(key, { dispatcher: fresh, server });
    }
  }

  override makeApiClient<T extends ApiType>(apiClientType: ApiConstructor<T>): T {
    const cluster = this.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    return new apiClientType(
      createConfiguration({
        baseServer: new ServerConfiguration(cluster.server, {}),
        authMethods: { default: this },
        middleware: [setHeaderMiddleware('User-Agent', USER_AGENT)],
        httpApi: this.http,
      }),
    );
  }

  /** Per-call options giving one request its own timeout (pass as the call's second argument). */
  within(timeoutMs: number): ConfigurationOptions {
    return { httpApi: this.timedHttp(() => timeoutMs) };
  }

  /**
   * Per-call options for a request that must not outlive `deadline` (epoch ms): its timeout is
   * min(request timeout, deadline − now), taken when it is sent (after any wait for its turn).
   */
  until(deadline: number, now: () => number): ConfigurationOptions {
    return { httpApi: this.timedHttp(() => Math.max(1, Math.min(this.timeouts.requestMs, deadline - now()))) };
  }

  private timedHttp(timeoutMs: () => number): HttpLibrary {
    return wrapHttpLibrary({ send: (request) => this.send(request, timeoutMs()) });
  }

  private async send(request: RequestContext, timeoutMs: number): Promise<ResponseContext> {
    const dispatcher = request.getDispatcher();
    const deadline = AbortSignal.timeout(timeoutMs);
    const caller = request.getSignal();
    try {
      const response = await fetch(request.getUrl(), {
        method: request.getHttpMethod(),
        body: request.getBody() as string | undefined,
        headers: request.getHeaders(),
        signal: caller ? AbortSignal.any([caller, deadline]) : deadline,
        dispatcher,
      });
      // The whole body within the deadline too: a connection can stall mid-response.
      const body = Buffer.from(await response.arrayBuffer());
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        headers[name] = value;
      });
      return new ResponseContext(response.status, headers, new SelfDecodingBody(Promise.resolve(body)));
    } catch (err) {
      const timedOut = deadline.aborted && !caller?.aborted;
      if (dispatcher) this.retire(dispatcher, timedOut ? 'request timed out' : `request failed: ${err instanceof Error ? err.message : String(err)}`, timedOut);
      if (timedOut) {
        const url = new URL(request.getUrl());
        throw new RequestTimeoutError(`${request.getHttpMethod()} ${url.pathname} got no answer within ${String(timeoutMs)} ms`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Checks every pooled connection every `everyMs` while requests are idle too: one that gives
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

  /** Done with this configuration: no more checks, pooled connections closed gracefully. */
  close(): void {
    clearInterval(this.checkTimer);
    for (const { dispatcher } of this.pool.values()) void dispatcher.close().catch(() => undefined);
    this.pool.clear();
  }

  private checkPooled(): void {
    for (const [key, pooled] of this.pool) {
      const { dispatcher, server } = pooled;
      if (this.checking.has(dispatcher)) continue;
      this.checking.add(dispatcher);
      void answers(dispatcher, server, CHECK_ANSWER_MS).then((alive) => {
        this.checking.delete(dispatcher);
        if (alive || this.pool.get(key) !== pooled) return;
        this.pool.delete(key);
        this.discard(dispatcher, server, `idle check got no answer within ${String(CHECK_ANSWER_MS)} ms`, true);
      });
    }
  }

  /** New requests get a fresh connection; the old one is closed, or destroyed if it is stalled. */
  private retire(dispatcher: Dispatcher, reason: string, probe: boolean): void {
    const entry = [...this.pool].find(([, p]) => p.dispatcher === dispatcher);
    if (!entry) return; // already retired by another failed request
    const [key, { server }] = entry;
    this.pool.delete(key);
    if (!probe) {
      this.discard(dispatcher, server, reason, undefined);
      return;
    }
    void answers(dispatcher, server, PROBE_MS).then((alive) => {
      this.discard(dispatcher, server, reason, !alive);
    });
  }

  /** Out of the pool already: closed gracefully, or destroyed (with whatever it carries) when stalled. */
  private discard(dispatcher: Dispatcher, server: string, reason: string, stalled: boolean | undefined): void {
    this.onConnectionRetired?.({ reason, server, ...(stalled === undefined ? {} : { stalled }) });
    const done = stalled ? dispatcher.destroy(new Error(`connection to ${server} stalled: ${reason}; no answer to a probe`)) : dispatcher.close();
    void done.catch(() => undefined);
  }
}

/** Whether the connection still carries an HTTP answer (any status) within `timeoutMs`. */
async function answers(dispatcher: Dispatcher, server: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${server}/livez`, { dispatcher, signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}
