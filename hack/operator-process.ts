// The operator as its own process (src/main.ts), as it runs in a cluster: for `npm run
// local`, the benchmark and the fault trials. Its configuration file and log live in
// `dir`; readiness is its own /readyz.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from './controlplane/install.ts';
import { isAlive, loopbackPort, stopPid, stopWhenOwnerDies } from './controlplane/processes.ts';

export interface OperatorProcessOptions {
  kubeconfig: string;
  context?: string;
  /** The operator configuration (probe and metrics addresses are chosen here, on loopback). */
  config: Record<string, unknown>;
  dir: string;
  /** Names the files: `<name>.yaml` (configuration) and `<name>.log` (its output, appended). */
  name: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  /** The operator's entry point (default src/main.ts of this checkout; the benchmark compares another). */
  entry?: string;
}

export interface OperatorProcess {
  child: ChildProcess;
  pid: number;
  /** http://127.0.0.1:<port>/readyz */
  readyUrl: string;
  metricsUrl: string;
  logFile: string;
  ready(): Promise<boolean>;
  waitUntilReady(timeoutMs?: number): Promise<void>;
  /** SIGKILL, as a crash: no drain, no Lease release. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), then SIGKILL if it lingers. */
  stop(): Promise<void>;
}

export async function spawnOperator(o: OperatorProcessOptions): Promise<OperatorProcess> {
  const probesPort = await loopbackPort();
  const metricsPort = await loopbackPort();
  const configFile = join(o.dir, `${o.name}.yaml`);
  // Plain-HTTP metrics are allowed on loopback only; a cluster gets HTTPS + TokenReview.
  writeFileSync(
    configFile,
    stringify({
      ...o.config,
      healthProbeBindAddress: `127.0.0.1:${String(probesPort)}`,
      metrics: { bindAddress: `127.0.0.1:${String(metricsPort)}`, secure: false },
    }),
  );
  const logFile = join(o.dir, `${o.name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), o.entry ?? join(REPO_ROOT, 'src/main.ts')], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, DEBUGGRANT_CONFIG: configFile, DEBUGGRANT_KUBECONFIG: o.kubeconfig, DEBUGGRANT_CONTEXT: o.context ?? 'admin', ...o.env },
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start the operator; see ${logFile}`);
  stopWhenOwnerDies(pid);
  const readyUrl = `http://127.0.0.1:${String(probesPort)}/readyz`;
  const ready = (): Promise<boolean> =>
    fetch(readyUrl, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
  return {
    child,
    pid,
    readyUrl,
    metricsUrl: `http://127.0.0.1:${String(metricsPort)}/metrics`,
    logFile,
    ready,
    async waitUntilReady(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!(await ready())) {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`the operator exited (${String(child.exitCode ?? child.signalCode)}); see ${logFile}`);
        if (Date.now() > deadline) throw new Error(`the operator was not ready after ${String(timeoutMs)} ms; see ${logFile}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async kill() {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      while (isAlive(pid) && child.exitCode === null && child.signalCode === null) await new Promise((r) => setTimeout(r, 10));
    },
    stop: () => stopPid(pid),
  };
}

/**
 * Builds the operator bundle (dist/operator.mjs, what the container image runs) from this
 * checkout into `dir`; returns its path. Takes a few seconds (esbuild).
 */
export function buildOperatorBundle(dir: string): string {
  execFileSync(process.execPath, [join(REPO_ROOT, 'hack/bundle.ts'), dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  return join(dir, 'operator.mjs');
}
