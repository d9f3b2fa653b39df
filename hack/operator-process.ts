// The operator as its own process (src/main.ts), as it runs in a cluster: for `npm run
// local`, the benchmark and the fault trials. Its configuration file and log live in
// `dir`; readiness is its own /readyz.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { SERVICE_ACCOUNT_DIR } from '../src/kube/kubeconfig.ts';
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
  /**
   * As its Deployment runs it (config/manager), instead of `kubeconfig` and plain-HTTP metrics:
   * no kubeconfig but the Pod's ServiceAccount, found as in a Pod (KUBERNETES_SERVICE_HOST and
   * _PORT name `server`; `serviceAccountDir`'s token and ca.crt are where the kubelet mounts
   * them, in a mount namespace of the operator's own: needs `unshare`, and root or
   * unprivileged user namespaces), and metrics served as `config.metrics` says (HTTPS with a
   * self-signed certificate and token review unless it says `secure: false`), scraped with
   * `metricsToken` (a user allowed `get /metrics`).
   */
  asDeployed?: { server: string; serviceAccountDir: string; metricsToken: string };
}

export interface OperatorProcess {
  child: ChildProcess;
  pid: number;
  /** http://127.0.0.1:<port>/readyz */
  readyUrl: string;
  metricsUrl: string;
  /** The metrics text, as a scraper gets it (over HTTPS with a token when served so). */
  scrapeMetrics(): Promise<string>;
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
  const configured = (o.config.metrics ?? {}) as { secure?: boolean };
  const secure = o.asDeployed !== undefined && configured.secure !== false;
  writeFileSync(
    configFile,
    stringify({
      ...o.config,
      healthProbeBindAddress: `127.0.0.1:${String(probesPort)}`,
      metrics: { ...configured, bindAddress: `127.0.0.1:${String(metricsPort)}`, secure },
    }),
  );
  const logFile = join(o.dir, `${o.name}.log`);
  const fd = openSync(logFile, 'a');
  const node = [process.execPath, ...(o.nodeArgs ?? []), o.entry ?? join(REPO_ROOT, 'src/main.ts')];
  const [command = '', ...args] = o.asDeployed ? inPodMounts(o.asDeployed.serviceAccountDir, node) : node;
  const child = spawn(command, args, {
    stdio: ['ignore', fd, fd],
    env: {
      ...access(o),
      DEBUGGRANT_CONFIG: configFile,
      ...o.env,
    },
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
    metricsUrl: `${secure ? 'https' : 'http'}://127.0.0.1:${String(metricsPort)}/metrics`,
    scrapeMetrics: () =>
      secure ? scrapeSecure(metricsPort, o.asDeployed?.metricsToken ?? '') : fetch(`http://127.0.0.1:${String(metricsPort)}/metrics`).then((r) => r.text()),
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

/** The environment that says where the cluster is: a kubeconfig, or (as deployed) only the Pod's service variables. */
function access(o: OperatorProcessOptions): NodeJS.ProcessEnv {
  if (!o.asDeployed) return { ...process.env, DEBUGGRANT_KUBECONFIG: o.kubeconfig, DEBUGGRANT_CONTEXT: o.context ?? 'admin' };
  const env = { ...process.env };
  delete env.KUBECONFIG;
  delete env.DEBUGGRANT_KUBECONFIG;
  delete env.DEBUGGRANT_CONTEXT;
  const server = new URL(o.asDeployed.server);
  // HOME without a .kube/config, so the in-cluster ServiceAccount is what it finds.
  return { ...env, HOME: o.dir, KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port || '443' };
}

/**
 * `command` in a mount namespace of its own where `serviceAccountDir`'s token and ca.crt are at
 * SERVICE_ACCOUNT_DIR (a tmpfs over /var/run there only), as the kubelet mounts them; `exec`
 * keeps the pid, so /proc readings are the operator's.
 */
function inPodMounts(serviceAccountDir: string, command: string[]): string[] {
  const user = process.getuid?.() === 0 ? [] : ['--map-root-user'];
  const script = `mount -t tmpfs tmpfs /var/run && mkdir -p ${SERVICE_ACCOUNT_DIR} && cp "$0/token" "$0/ca.crt" ${SERVICE_ACCOUNT_DIR}/ && exec "$@"`;
  return ['unshare', '--mount', '--propagation', 'private', ...user, 'sh', '-c', script, serviceAccountDir, ...command];
}

/** A scrape as Prometheus makes it of the Deployment's metrics: HTTPS (self-signed: not verified) and a bearer token. */
function scrapeSecure(port: number, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode === 200) resolve(text);
        else reject(new Error(`metrics scrape: HTTP ${String(res.statusCode)} ${text.slice(0, 200)}`));
      });
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/**
 * Builds the operator bundle (dist/operator.mjs, what the container image runs) from this
 * checkout into `dir`; returns its path. Takes a few seconds (esbuild).
 */
export function buildOperatorBundle(dir: string): string {
  execFileSync(process.execPath, [join(REPO_ROOT, 'hack/bundle.ts'), dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  return join(dir, 'operator.mjs');
}
