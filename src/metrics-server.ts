// /metrics as controller-runtime serves it securely: HTTPS, a bearer token the API server
// authenticates (TokenReview), and a SubjectAccessReview for `get` on the non-resource URL
// /metrics (grant it with the debuggrant:metrics-reader ClusterRole). No token: 401; a token
// without that right: 403. Plain HTTP is allowed only on loopback (see config.ts).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { BindAddress } from './config.ts';
import type { RequestReviewer, RequestVerdict } from './kube/request-review.ts';
import type { Logger } from './log.ts';
import { createServer as createHttpServer } from './runtime/node-http.ts';
import { selfSignedCert, type ServingCert } from './runtime/self-signed-cert.ts';

export interface MetricsServerOptions {
  registry: Registry;
  bind: BindAddress;
  /** Absent: plain HTTP without authentication (loopback only). */
  secure?: { reviewer: RequestReviewer; certDir?: string };
  log: Logger;
  now?: () => number;
}

/** How long a verdict is reused for the same token, so each scrape does not cost two API requests. */
const VERDICT_TTL_MS = 10_000;
const VERDICT_CACHE_MAX = 256;

export function serveMetrics(opts: MetricsServerOptions): Promise<Server> {
  const { registry, bind, secure, log } = opts;
  const serve = (res: ServerResponse): void => {
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType }).end(text);
      },
      (err: unknown) => {
        res.writeHead(500).end(String(err));
      },
    );
  };
  const review = secure ? cachedReviewer(secure.reviewer, opts.now ?? Date.now) : undefined;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (!review) {
      serve(res);
      return;
    }
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) {
      res.writeHead(401, { 'www-authenticate': 'Bearer' }).end('Unauthorized: a bearer token is required\n');
      return;
    }
    review({ token, path, verb: 'get' }).then(
      (verdict) => {
        if (verdict.allowed) {
          serve(res);
          return;
        }
        log.debug({ status: verdict.status, reason: verdict.reason }, 'metrics request refused');
        res.writeHead(verdict.status).end(verdict.status === 401 ? 'Unauthorized\n' : `Forbidden: ${verdict.reason}\n`);
      },
      (err: unknown) => {
        log.warn({ err }, 'cannot review a metrics request with the API server');
        res.writeHead(503).end('cannot reach the API server to authorize this request\n');
      },
    );
  };
  const server = secure ? createHttpsServer(servingCert(secure.certDir), handle) : createHttpServer(handle);
  return listen(server, bind, 'metrics');
}

function servingCert(certDir: string | undefined): ServingCert {
  if (!certDir) return selfSignedCert(['localhost', '127.0.0.1', hostname()]);
  return { cert: readFileSync(join(certDir, 'tls.crt'), 'utf8'), key: readFileSync(join(certDir, 'tls.key'), 'utf8') };
}

/** Reuses a verdict for the same token and path for a few seconds (errors are never cached). */
export function cachedReviewer(reviewer: RequestReviewer, now: () => number): RequestReviewer {
  const cache = new Map<string, { verdict: RequestVerdict; at: number }>();
  return async (request) => {
    const key = createHash('sha256').update(`${request.verb} ${request.path} ${request.token}`).digest('hex');
    const hit = cache.get(key);
    if (hit && now() - hit.at < VERDICT_TTL_MS) return hit.verdict;
    const verdict = await reviewer(request);
    if (cache.size >= VERDICT_CACHE_MAX) cache.clear();
    cache.set(key, { verdict, at: now() });
    return verdict;
  };
}

export function listen(server: Server, bind: BindAddress, what: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      reject(new Error(`cannot serve ${what} on ${bind.host ?? ''}:${String(bind.port)}`, { cause: err }));
    });
    server.listen(bind.port, bind.host, () => {
      resolve(server);
    });
  });
}
