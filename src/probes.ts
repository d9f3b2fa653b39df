// /healthz and /readyz for the kubelet's probes: plain HTTP, nothing secret in them.
// (/metrics has its own, authenticated server: metrics-server.ts.)
import type { Server } from 'node:http';
import { createServer } from './runtime/node-http.ts';
import type { BindAddress } from './config.ts';
import type { Manager } from './manager.ts';
import { listen } from './metrics-server.ts';

export function serveProbes(manager: Pick<Manager, 'notReady'>, bind: BindAddress): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200).end('ok');
    } else if (path === '/readyz') {
      // Not ready while any watch is down: the cache may be missing what happened meanwhile.
      // The body says which informer and why (connection refused, 403 with the permission…).
      const reasons = manager.notReady;
      res.writeHead(reasons.length === 0 ? 200 : 503).end(reasons.length === 0 ? 'ok' : `not ready:\n${reasons.join('\n')}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
  return listen(server, bind, 'health probes');
}
