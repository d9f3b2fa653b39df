// An HTTPS proxy between the operator and the API server that fails chosen requests: it
// terminates TLS (its own certificate, trusted by the kubeconfig it hands out), reads each
// request, and either forwards it to the real API server (with the caller's own bearer
// token) or answers it with a fault: an HTTP error (500, or 429 with Retry-After), a reset
// connection, or silence (a stall: the request is never forwarded; or forwarded with its
// answer lost; the connection stays open until the fault is cleared, then it is reset). Unlike the TCP proxy (fault-proxy.ts)
// it sees method, path and body, so one kind of request can fail while the rest flow: only
// the index writes, only the RoleBinding deletes of one namespace. Every request is logged
// with when it arrived, what was answered, and when.
import { Agent, request as httpsRequest } from 'node:https';
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { selfSignedCert } from '../../src/runtime/self-signed-cert.ts';

/**
 * stall: the request never reaches the API server; `answer lost`: it does (a write takes
 * effect) but its answer never comes back; `proxy 404`: the proxy's own HTML "404 page not
 * found" (a path it cannot route, as a misconfigured Rancher /k8s/clusters/… prefix answers). Both stay silent until the fault is cleared, then
 * their connection is reset.
 */
export type Fault = { status: 500 } | { status: 429; retryAfterSeconds: number } | 'reset' | 'stall' | 'answer lost' | 'proxy 404';

export interface RequestMatch {
  /** One method or several (an index write is a PUT, or a POST when it creates the index). */
  method: string | readonly string[];
  /** Matched against the path without the query. */
  path: RegExp;
  /** Matched against the request body (e.g. a SubjectAccessReview's namespace). */
  body?: RegExp;
  /** Matched against the query string (e.g. /watch=true/). */
  query?: RegExp;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  query: string;
  body: string;
  receivedAt: number;
  /** The fault answered instead of forwarding, if any. */
  fault?: Fault;
  /** A fault that reached this request while it was open (a watch stream stalled or ended). */
  interruptedBy?: Fault;
  /** The status the API server (or the fault) answered with (also when the answer was lost). */
  status?: number;
  /** When the answer's head went back to the caller (never, for a lost answer). */
  answeredAt?: number;
  /** When the API server's answer reached the proxy (the request had taken effect by then). */
  serverAnsweredAt?: number;
  /** The API server's answer's headers (e.g. API Priority and Fairness's classification). */
  serverHeaders?: IncomingHttpHeaders;
}

interface ActiveFault {
  match: RequestMatch;
  fault: Fault;
}

/** A request or stream that is open through the proxy, so a new fault can reach it. */
interface Open {
  request: ProxiedRequest;
  res: ServerResponse;
  stop(): void;
  stall(): void;
}

export class HttpFaultProxy {
  readonly log: ProxiedRequest[] = [];
  private readonly faults = new Set<ActiveFault>();
  private readonly open = new Set<Open>();
  /** Answers withheld by a stall, until its fault is cleared. */
  private readonly held = new Map<ServerResponse, ProxiedRequest>();
  private readonly agent: Agent;
  private readonly target: URL;
  private readonly ca: string;
  private server: Server | undefined;
  private listenPort = 0;
  /** The proxy's own serving certificate (PEM), which the kubeconfig it hands out trusts. */
  private serving = '';

  private constructor(target: URL, ca: string) {
    this.target = target;
    this.ca = ca;
    this.agent = new Agent({ keepAlive: true, ca });
  }

  /** Listens on a free loopback port in front of `kc`'s current cluster. */
  static async start(kc: k8s.KubeConfig): Promise<HttpFaultProxy> {
    const cluster = kc.getCurrentCluster();
    if (!cluster?.caData) throw new Error("the kubeconfig's cluster has no certificate-authority-data");
    const proxy = new HttpFaultProxy(new URL(cluster.server), Buffer.from(cluster.caData, 'base64').toString('utf8'));
    const serving = selfSignedCert(['127.0.0.1']);
    const server = createServer({ cert: serving.cert, key: serving.key }, (req, res) => {
      proxy.handle(req, res);
    });
    proxy.server = server;
    proxy.serving = serving.cert;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        resolve();
      });
    });
    const address = server.address();
    proxy.listenPort = typeof address === 'object' && address ? address.port : 0;
    return proxy;
  }

  /** The same kubeconfig, its clusters reached through this proxy (trusting its certificate). */
  kubeConfig(kc: k8s.KubeConfig): k8s.KubeConfig {
    const copy = new k8s.KubeConfig();
    copy.loadFromOptions({
      clusters: kc.getClusters().map((c) => ({
        ...c,
        server: `https://127.0.0.1:${String(this.listenPort)}`,
        caData: Buffer.from(this.serving).toString('base64'),
        caFile: undefined,
      })),
      users: kc.getUsers(),
      contexts: kc.getContexts(),
      currentContext: kc.getCurrentContext(),
    });
    return copy;
  }

  /** What a Pod would see of the proxy as its cluster: the service's address and the CA that signs its certificate. */
  get asCluster(): { env: { KUBERNETES_SERVICE_HOST: string; KUBERNETES_SERVICE_PORT: string }; ca: string } {
    return { env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(this.listenPort) }, ca: this.serving };
  }

  /**
   * Answers every matching request with `fault` until the returned function is called. Open
   * streams that match (watches) feel it too: a stall stops their bytes, any other fault ends
   * them, so the client has to come back and meet the fault.
   */
  fail(match: RequestMatch, fault: Fault): () => void {
    const active: ActiveFault = { match, fault };
    this.faults.add(active);
    for (const o of [...this.open]) {
      if (!matches(match, o.request)) continue;
      o.request.interruptedBy = fault;
      if (fault === 'stall' || fault === 'answer lost') o.stall();
      else o.stop();
    }
    return () => {
      this.clear(active);
    };
  }

  async close(): Promise<void> {
    for (const f of [...this.faults]) this.clear(f);
    for (const o of [...this.open]) o.stop();
    this.agent.destroy();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }

  private clear(active: ActiveFault): void {
    if (!this.faults.delete(active)) return;
    // What the fault held silent is reset now, as a peer that gave up would.
    for (const [res, request] of [...this.held]) {
      if (!matches(active.match, request)) continue;
      this.held.delete(res);
      if (res.socket) resetConnection(res.socket);
    }
  }

  private hold(res: ServerResponse, request: ProxiedRequest): void {
    this.held.set(res, request);
    res.on('close', () => this.held.delete(res));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://proxy');
      const request: ProxiedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.search.slice(1),
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      this.log.push(request);
      const fault = [...this.faults].find((f) => matches(f.match, request))?.fault;
      if (fault === 'answer lost') {
        request.fault = fault;
        this.forward(req, res, request, true);
      } else if (fault) {
        this.answerWithFault(req, res, request, fault);
      } else {
        this.forward(req, res, request, false);
      }
    });
  }

  private answerWithFault(req: IncomingMessage, res: ServerResponse, request: ProxiedRequest, fault: Exclude<Fault, 'answer lost'>): void {
    request.fault = fault;
    if (fault === 'reset') {
      resetConnection(req.socket);
      return;
    }
    if (fault === 'stall') {
      this.hold(res, request);
      return;
    }
    request.answeredAt = Date.now();
    if (fault === 'proxy 404') {
      request.status = 404;
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><head><title>404 Not Found</title></head><body>404 page not found</body></html>');
      return;
    }
    const message = `injected HTTP ${String(fault.status)}`;
    const body = JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      message,
      reason: fault.status === 429 ? 'TooManyRequests' : 'InternalError',
      code: fault.status,
    });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (fault.status === 429) headers['retry-after'] = String(fault.retryAfterSeconds);
    request.status = fault.status;
    res.writeHead(fault.status, headers).end(body);
  }

  /** To the API server; with `withhold`, its answer is recorded but never passed back. */
  private forward(req: IncomingMessage, res: ServerResponse, request: ProxiedRequest, withhold: boolean): void {
    // Hop-by-hop headers stay on this hop.
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: this.target.host };
    delete headers.connection;
    delete headers['keep-alive'];
    const upstream = httpsRequest({
      host: this.target.hostname,
      port: this.target.port,
      method: request.method,
      path: req.url,
      headers,
      agent: this.agent,
      ca: this.ca,
    });
    let stalled = withhold;
    if (withhold) this.hold(res, request);
    const open: Open = {
      request,
      res,
      stop: () => {
        upstream.destroy();
        res.destroy();
      },
      stall: () => {
        stalled = true;
        this.hold(res, request);
      },
    };
    this.open.add(open);
    const done = (): void => {
      this.open.delete(open);
    };
    res.on('close', () => {
      done();
      upstream.destroy();
    });
    upstream.on('error', () => {
      done();
      if (res.socket) resetConnection(res.socket);
    });
    upstream.on('response', (answer) => {
      request.serverAnsweredAt = Date.now();
      request.serverHeaders = answer.headers;
      if (stalled) {
        // Silence from here on, until the fault clears and resets it.
        if (withhold) request.status = answer.statusCode;
        answer.resume();
        return;
      }
      request.status = answer.statusCode;
      request.answeredAt = Date.now();
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.on('data', (chunk: Buffer) => {
        if (!stalled) res.write(chunk);
      });
      answer.on('end', () => {
        if (!stalled) res.end();
      });
      answer.on('error', () => {
        res.destroy();
      });
    });
    upstream.end(request.body);
  }
}

/**
 * Sends a TCP RST. A TLS socket cannot do that itself (its handle is the TLS layer, and
 * resetAndDestroy throws ERR_INVALID_HANDLE_TYPE); the TCP socket under it can.
 */
function resetConnection(socket: Socket): void {
  const tcp = (socket as Socket & { _parent?: unknown })._parent;
  if (tcp instanceof Socket) tcp.resetAndDestroy();
  else socket.destroy();
}

export function matches(m: RequestMatch, r: Pick<ProxiedRequest, 'method' | 'path' | 'query' | 'body'>): boolean {
  const methods: readonly string[] = typeof m.method === 'string' ? [m.method] : m.method;
  return methods.includes(r.method) && m.path.test(r.path) && (m.query?.test(r.query) ?? true) && (m.body?.test(r.body) ?? true);
}
