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
  KubeConfig, SelfDecodingBody, ServerConfiguration, ResponseContext, createConfiguration, setHeaderMiddleware, wrapHttpLibrary,
  type ApiConstructor, type ApiType, type ConfigurationOptions, type HttpLibrary, type RequestContext,
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
const USER_AGENT = 'debuggrant-operator';

/** A request that got no answer within its timeout. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

export type ConnectionRetired = (why: { reason: string; stalled?: boolean; server: string }) => void;

interface Pooled { dispatcher: Dispatcher; server: string }

export class PooledKubeConfig extends KubeConfig {
  timeouts: RequestTimeouts = DEFAULT_TIMEOUTS;
  /** Told whenever a connection is replaced (for logs and metrics). */
  onConnectionRetired: ConnectionRetired | undefined;
  private readonly pool = new Map<string, Pooled>();
  private readonly http = this.timedHttp(() => this.timeouts.requestMs);

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
    return new apiClientType(createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: this },
      middleware: [setHeaderMiddleware('User-Agent', USER_AGENT)],
      httpApi: this.http,
    }));
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
      response.headers.forEach((value, name) => { headers[name] = value; });
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

  /** New requests get a fresh connection; the old one is closed, or destroyed if it is stalled. */
  private retire(dispatcher: Dispatcher, reason: string, probe: boolean): void {
    const entry = [...this.pool].find(([, p]) => p.dispatcher === dispatcher);
    if (!entry) return; // already retired by another failed request
    const [key, { server }] = entry;
    this.pool.delete(key);
    if (!probe) {
      this.onConnectionRetired?.({ reason, server });
      void dispatcher.close().catch(() => undefined);
      return;
    }
    void answers(dispatcher, server).then((alive) => {
      this.onConnectionRetired?.({ reason, server, stalled: !alive });
      return alive ? dispatcher.close() : dispatcher.destroy(new Error(`connection to ${server} stalled: no answer within ${String(PROBE_MS)} ms`));
    }).catch(() => undefined);
  }
}

/** Whether the connection still carries an HTTP answer (any status) within PROBE_MS. */
async function answers(dispatcher: Dispatcher, server: string): Promise<boolean> {
  try {
    const res = await fetch(`${server}/livez`, { dispatcher, signal: AbortSignal.timeout(PROBE_MS) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}
