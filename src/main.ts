// Entry point: configuration, API connection, the manager (leader election + operator),
// probes and metrics, signals. The only place (besides the CLI) that exits the process.
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig, parseBindAddress, type OperatorConfig } from './config.ts';
import { connect, requestPolicy, type KubeApi } from './kube/client.ts';
import { makeLogger } from './log.ts';
import { Manager } from './manager.ts';
import { requestReviewer } from './kube/request-review.ts';
import { serveMetrics } from './metrics-server.ts';
import { serveProbes } from './probes.ts';
import { VERSION } from './version.ts';

const log = makeLogger();

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const api = connect({ kubeconfig: process.env.DEBUGGRANT_KUBECONFIG, context: process.env.DEBUGGRANT_CONTEXT, ...requestPolicy(config, log) });
  // The Pod name (downward API) identifies a replica in the Lease and in audit lines.
  const identity = process.env.POD_NAME ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
  let stopping = false;
  const exit = (code: number, why: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'shutting down');
    const hardStop = setTimeout(() => process.exit(code), 20_000);
    hardStop.unref();
    void manager.stop(code !== 0).finally(() => process.exit(code));
  };
  const manager = new Manager({
    api,
    config,
    log,
    identity: process.env.DEBUGGRANT_IDENTITY ?? identity,
    onFatal: (reason) => {
      exit(1, reason);
    },
  });
  const servers = await serve(manager, config, api);
  const close = (): void => {
    for (const s of servers) s.close();
  };
  process.once('SIGTERM', () => {
    close();
    exit(0, 'SIGTERM');
  });
  process.once('SIGINT', () => {
    close();
    exit(0, 'SIGINT');
  });
  log.info(
    {
      version: VERSION,
      identity,
      namespaces: config.namespaces.length > 0 ? config.namespaces : 'all',
      maxTtl: config.maxTtl,
      leaderElection: config.leaderElection.enabled,
    },
    'starting',
  );
  await manager.start();
}

/** The probes server and the metrics server, each unless its bind address is "0". */
async function serve(manager: Manager, config: OperatorConfig, api: KubeApi): Promise<Server[]> {
  const servers: Server[] = [];
  const probes = parseBindAddress(config.healthProbeBindAddress);
  if (probes) servers.push(await serveProbes(manager, probes));
  const metrics = parseBindAddress(config.metrics.bindAddress);
  if (metrics) {
    servers.push(
      await serveMetrics({
        registry: manager.operator.metrics.registry,
        bind: metrics,
        log,
        secure: config.metrics.secure ? { reviewer: requestReviewer(api), certDir: config.metrics.certDir } : undefined,
      }),
    );
  }
  return servers;
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) log.fatal(err.message);
  else log.fatal({ err }, 'operator failed to start');
  process.exit(1);
});
