// Entry point: configuration, API connection, the operator, probes and metrics, signals.
// The only place (besides CLI entry points) that may exit the process.
import { createServer, type Server } from 'node:http';
import { ConfigError, loadConfig } from './config.ts';
import { connect } from './kube/client.ts';
import { makeLogger } from './log.ts';
import { Operator } from './operator.ts';

const log = makeLogger();

function serveProbes(operator: Operator, port: number): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200).end('ok');
    } else if (path === '/readyz') {
      // Not ready while any watch is down: the cache may be missing what happened meanwhile.
      const ready = operator.ready;
      res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : 'informers not synced');
    } else if (path === '/metrics') {
      operator.metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': operator.metrics.registry.contentType }).end(text);
      }, (err: unknown) => { res.writeHead(500).end(String(err)); });
    } else {
      res.writeHead(404).end();
    }
  });
  server.listen(port);
  return server;
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const api = connect({ kubeconfig: process.env.DEBUGGRANT_KUBECONFIG, context: process.env.DEBUGGRANT_CONTEXT });
  const operator = new Operator({ api, config, log, identity: process.env.DEBUGGRANT_IDENTITY });
  const server = serveProbes(operator, config.metricsPort);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    server.close();
    operator.stop().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => { shutdown('SIGTERM'); });
  process.once('SIGINT', () => { shutdown('SIGINT'); });
  log.info({ namespaces: config.namespaces.length > 0 ? config.namespaces : 'all', maxTtl: config.maxTtl }, 'starting');
  await operator.start();
  log.info('started: informers synced, overdue grants revoked');
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) log.fatal(err.message);
  else log.fatal({ err }, 'operator failed to start');
  process.exit(1);
});
