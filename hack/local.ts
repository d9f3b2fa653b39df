// `npm run local`: a real control plane, the CRDs, the operator (its own process) and a
// sample grant, in the foreground; Ctrl-C stops everything. `stop` stops a plane that
// another run left behind.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { ensureBinaries } from './controlplane/binaries.ts';
import { parseConfig } from '../src/config.ts';
import { REPO_ROOT, installAdmission, installCrds, kubectlAs } from './controlplane/install.ts';
import { readState, startControlPlane, stateFile, stopControlPlane, type PlaneState } from './controlplane/plane.ts';
import { isAlive, stopPid } from './controlplane/processes.ts';
import { spawnOperator } from './operator-process.ts';

const dir = resolve(process.env.DEBUGGRANT_LOCAL_DIR ?? '.local');
const say = (msg: string): void => { process.stderr.write(`[local] ${msg}\n`); };

async function stop(): Promise<void> {
  if (!existsSync(stateFile(dir))) {
    say(`no control plane state in ${dir}`);
    return;
  }
  const state = readState(dir) as PlaneState & { operatorPid?: number };
  if (state.operatorPid) await stopPid(state.operatorPid);
  await stopControlPlane(state);
  say('stopped');
}

const sampleConfig = (): Record<string, unknown> =>
  parse(readFileSync(`${REPO_ROOT}config/samples/operator-config.yaml`, 'utf8')) as Record<string, unknown>;

async function start(): Promise<void> {
  if (existsSync(stateFile(dir))) {
    const old = readState(dir);
    if (isAlive(old.pids.apiserver) || isAlive(old.pids.etcd)) {
      throw new Error(`a control plane from ${dir} is still running (pids ${old.pids.apiserver}, ${old.pids.etcd}): run \`npm run local -- stop\` first`);
    }
  }
  const apiPort = process.env.DEBUGGRANT_API_PORT ? Number(process.env.DEBUGGRANT_API_PORT) : undefined;
  const state = await startControlPlane({
    dir: resolve(dir, 'plane'), binDir: ensureBinaries(), kubeconfigPath: resolve(dir, 'kubeconfig'), apiPort, progress: say,
  });
  say('installing the CRDs, grant-writer RBAC and admission policies');
  installCrds(state);
  installAdmission(state, parseConfig(sampleConfig(), 'config/samples/operator-config.yaml'));
  kubectlAs(state, 'admin', ['apply', '-f', `${REPO_ROOT}config/samples/workload.yaml`]);

  say('starting the operator');
  const operator = await spawnOperator({ kubeconfig: state.kubeconfig, config: sampleConfig(), dir, name: 'operator' });
  writeFileSync(stateFile(dir), JSON.stringify({ ...state, operatorPid: operator.pid }, null, 2), { mode: 0o600 });
  const shutdown = (code: number): void => {
    say('stopping');
    void operator.stop().then(() => stopControlPlane(state)).then(() => process.exit(code));
  };
  process.once('SIGINT', () => { shutdown(0); });
  process.once('SIGTERM', () => { shutdown(0); });
  try {
    await operator.waitUntilReady(30_000);
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
    shutdown(1);
    return;
  }
  say('applying the sample grant as the gitops identity');
  kubectlAs(state, 'gitops', ['apply', '-f', `${REPO_ROOT}config/samples/debuggrant.yaml`]);

  const image = 'registry.example.com/debug/netshoot@sha256:0f8e0ff5dd4a1d2c0a2d3b0d7c9c4a1e2f3b4c5d6e7f8091a2b3c4d5e6f70819';
  process.stdout.write([
    '',
    `debuggrant running locally. API server ${state.server}; Ctrl-C stops everything.`,
    `  kubeconfig:  ${state.kubeconfig}  (contexts: admin, alice, bob, gitops, carol)`,
    `  operator:    log ${operator.logFile}, metrics ${operator.metricsUrl}`,
    '',
    'Try it from another shell (our kubectl matches the API server version; the machine\'s may not):',
    `  export KUBECONFIG=${state.kubeconfig}; alias kubectl=${state.kubectl}`,
    `  kubectl get dg -n shop -w`,
    `  kubectl --context alice -n shop auth can-i patch pods/checkout-1 --subresource=ephemeralcontainers`,
    `  kubectl --context alice -n shop debug checkout-1 --image=${image} --profile=restricted`,
    `  kubectl --context bob -n shop debug checkout-1 --image=${image}    # refused: bob has no grant`,
    `  kubectl describe dg -n shop inc-4211-checkout`,
    '',
  ].join('\n'));
  operator.child.once('exit', (code) => {
    say(`the operator exited (code ${String(code)}); see ${operator.logFile}`);
    shutdown(1);
  });
  setInterval(() => {
    if (!isAlive(state.pids.apiserver) || !isAlive(state.pids.etcd)) {
      say(`a control-plane process died; see ${state.dir}/*.log`);
      shutdown(1);
    }
  }, 2000);
}

const cmd = process.argv[2] ?? 'start';
const action = cmd === 'stop' ? stop : cmd === 'start' ? start : undefined;
if (!action) {
  say(`unknown command ${cmd}: use start (default) or stop`);
  process.exit(2);
}
action().catch((err: unknown) => {
  say(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
