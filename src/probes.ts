// /healthz, /readyz and /metrics on one port.
import { createServer, type Server } from 'node:http';
import type { Manager } from './manager.ts';

export function serveProbes(manager: Manager, port: number, host?: string): Promise<Server> {
  const registry = manager.operator.metrics.registry;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200).end('ok');
    } else if (path === '/readyz') {
      // Not ready while any watch is down: the cache may be missing what happened meanwhile.
      const ready = manager.ready;
      res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : 'informers not synced');
    } else if (path === '/metrics') {
      registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType }).end(text);
      }, (err: unknown) => { res.writeHead(500).end(String(err)); });
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => { reject(new Error(`cannot serve probes and metrics on port ${String(port)}`, { cause: err })); });
    server.listen(port, host, () => { resolve(server); });
  });
}
