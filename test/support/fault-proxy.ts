// A TCP proxy between the operator and the API server that misbehaves on request: it
// refuses connections, resets them, stalls them (bytes stop flowing both ways, the socket
// stays open, as with a hung peer or a dropped NAT entry), or cuts every live one at a
// chosen moment. TLS passes through untouched, so the operator sees exactly what it would
// see on a bad network; point it here by rewriting the kubeconfig's server.
import { connect, createServer, type Server, type Socket } from 'node:net';
import * as k8s from '@kubernetes/client-node';

/** What happens to connections accepted from now on. */
export type NewConnections = 'forward' | 'reset' | 'stall';

interface Link {
  client: Socket;
  upstream: Socket;
}

export class FaultProxy {
  private listenPort = 0;
  private readonly target: { host: string; port: number };
  private server: Server;
  private readonly links = new Set<Link>();
  private mode: NewConnections = 'forward';
  /** Connections accepted so far (a fresh connection after a fault shows up here). */
  accepted = 0;

  private constructor(target: { host: string; port: number }) {
    this.target = target;
    this.server = createServer((socket) => {
      this.accept(socket);
    });
  }

  /** Listens on a free loopback port and forwards to `server` (an https:// URL). */
  static async start(server: string): Promise<FaultProxy> {
    const url = new URL(server);
    const proxy = new FaultProxy({ host: url.hostname, port: Number(url.port || 443) });
    proxy.listenPort = await listen(proxy.server, 0);
    return proxy;
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    return `https://${this.target.host}:${String(this.port)}`;
  }

  /** Connections currently open through the proxy. */
  get live(): number {
    return this.links.size;
  }

  newConnections(mode: NewConnections): void {
    this.mode = mode;
  }

  /** Stops listening and cuts every live connection (connects are refused: ECONNREFUSED), or listens again on the same port. */
  async refuse(refusing: boolean): Promise<void> {
    if (refusing) {
      const closed = new Promise<void>((resolve) => {
        this.server.close(() => {
          resolve();
        });
      });
      this.cutAll();
      await closed;
      return;
    }
    this.server = createServer((socket) => {
      this.accept(socket);
    });
    await listen(this.server, this.listenPort);
  }

  /** Every live connection stops carrying bytes (both ways) until resumeAll; returns how many. */
  stallAll(): number {
    for (const link of this.links) stall(link);
    return this.links.size;
  }

  resumeAll(): void {
    for (const link of this.links) resume(link);
  }

  /** Resets every live connection; returns how many. */
  cutAll(): number {
    const n = this.links.size;
    for (const link of [...this.links]) this.drop(link);
    return n;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private accept(client: Socket): void {
    this.accepted++;
    if (this.mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    const link: Link = { client, upstream };
    this.links.add(link);
    const end = (): void => {
      this.drop(link);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    if (this.mode === 'stall') stall(link);
    else resume(link);
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.resetAndDestroy();
    link.upstream.resetAndDestroy();
  }
}

function stall(link: Link): void {
  link.client.unpipe(link.upstream);
  link.upstream.unpipe(link.client);
  link.client.pause();
  link.upstream.pause();
}

function resume(link: Link): void {
  link.client.pipe(link.upstream);
  link.upstream.pipe(link.client);
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** The same kubeconfig, its clusters reached through the proxy. */
export function throughProxy(kc: k8s.KubeConfig, proxy: FaultProxy): k8s.KubeConfig {
  const copy = new k8s.KubeConfig();
  copy.loadFromOptions({
    clusters: kc.getClusters().map((c) => ({ ...c, server: proxy.url })),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  return copy;
}
