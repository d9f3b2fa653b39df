// `npm run local`: a real control plane, a real node (containerd + kubelet, with
// kube-controller-manager and kube-scheduler) where the machine can run one, the CRDs, the
// operator (its own process) and a sample grant, in the foreground; Ctrl-C stops everything.
// `--no-node` keeps to the API server alone. `stop` stops what another run left behind.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { ensureBinaries } from './controlplane/binaries.ts';
import { parseConfig } from '../src/config.ts';
import { REPO_ROOT, installAdmission, installCrds, kubectlAs } from './controlplane/install.ts';
import { readState, startControlPlane, stateFile, stopControlPlane, type PlaneState } from './controlplane/plane.ts';
import { isAlive, stopPid } from './controlplane/processes.ts';
import { readNodeState, startNodeIfPossible, stopNode, type NodeState } from './node/node.ts';
import { sampleWorkload } from './node/sample.ts';
import { spawnOperator } from './operator-process.ts';

const dir = resolve(process.env.DEBUGGRANT_LOCAL_DIR ?? '.local');
const nodeDir = resolve(dir, 'node');
const say = (msg: string): void => {
  process.stderr.write(`[local] ${msg}\n`);
};

async function stop(): Promise<void> {
  if (!existsSync(stateFile(dir))) {
    say(`no control plane state in ${dir}`);
    return;
  }
  const state = readState(dir) as PlaneState & { operatorPid?: number; localPid?: number };
  // A session still in the foreground stops everything itself, as on Ctrl-C; two cleanups
  // at once would race over the same containers.
  if (state.localPid && isAlive(state.localPid)) await stopPid(state.localPid, 60_000);
  if (state.operatorPid) await stopPid(state.operatorPid);
  const node = readNodeState(nodeDir);
  if (node) await stopNode(node);
  await stopControlPlane(state);
  say('stopped');
}

const sampleConfig = (): Record<string, unknown> => parse(readFileSync(`${REPO_ROOT}config/samples/operator-config.yaml`, 'utf8')) as Record<string, unknown>;

async function start(): Promise<void> {
  if (existsSync(stateFile(dir))) {
    const old = readState(dir);
    if (isAlive(old.pids.apiserver) || isAlive(old.pids.etcd)) {
      throw new Error(`a control plane from ${dir} is still running (pids ${old.pids.apiserver}, ${old.pids.etcd}): run \`npm run local -- stop\` first`);
    }
  }
  const apiPort = process.env.DEBUGGRANT_API_PORT ? Number(process.env.DEBUGGRANT_API_PORT) : undefined;
  const state = await startControlPlane({
    dir: resolve(dir, 'plane'),
    binDir: ensureBinaries(),
    kubeconfigPath: resolve(dir, 'kubeconfig'),
    apiPort,
    progress: say,
  });
  let node: NodeState | undefined;
  if (process.argv.includes('--no-node')) {
    say('API-server-only mode (--no-node): no kubelet, pods stay Pending');
  } else {
    const outcome = await startNodeIfPossible({ plane: state, dir: nodeDir, progress: say });
    node = outcome.node;
    if (outcome.reason) say(`API-server-only mode: ${outcome.reason}`);
  }
  const stopAll = async (): Promise<void> => {
    if (node) await stopNode(node);
    await stopControlPlane(state);
  };
  say('installing the CRDs, grant-writer RBAC and admission policies');
  installCrds(state);
  // The local operator runs as admin: the timers policy holds admin's Jobs to timers here.
  installAdmission(state, { ...parseConfig(sampleConfig(), 'config/samples/operator-config.yaml'), operatorUsers: ['admin'] });
  if (node) {
    kubectlAs(
      state,
      'admin',
      ['apply', '-f', '-'],
      sampleWorkload(node.images)
        .map((d) => stringify(d))
        .join('---\n'),
    );
    say('waiting for the checkout pods to run');
    kubectlAs(state, 'admin', ['-n', 'shop', 'rollout', 'status', 'deployment/checkout', '--timeout=120s']);
  } else {
    kubectlAs(state, 'admin', ['apply', '-f', `${REPO_ROOT}config/samples/workload.yaml`]);
  }

  say('starting the operator');
  const operator = await spawnOperator({ kubeconfig: state.kubeconfig, config: sampleConfig(), dir, name: 'operator' });
  writeFileSync(stateFile(dir), JSON.stringify({ ...state, operatorPid: operator.pid, localPid: process.pid }, null, 2), { mode: 0o600 });
  let stopping = false;
  const shutdown = (code: number): void => {
    // Ctrl-C stops the operator, whose exit would otherwise start a second, concurrent stop.
    if (stopping) return;
    stopping = true;
    say('stopping');
    // Exit whatever the cleanup says: a failed step is reported, never a hung terminal.
    void operator
      .stop()
      .then(stopAll)
      .catch((err: unknown) => {
        say(`stopping failed: ${String(err)}`);
      })
      .finally(() => process.exit(code));
  };
  process.once('SIGINT', () => {
    shutdown(0);
  });
  process.once('SIGTERM', () => {
    shutdown(0);
  });
  try {
    await operator.waitUntilReady(30_000);
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
    shutdown(1);
    return;
  }
  say('applying the sample grant as the gitops identity');
  const grant = parse(readFileSync(`${REPO_ROOT}config/samples/debuggrant.yaml`, 'utf8')) as { spec: { image: string } };
  // On the node the grant names the image that exists there (non-root, for the restricted profile).
  if (node) grant.spec.image = node.images.debugNonRoot.ref;
  kubectlAs(state, 'gitops', ['apply', '-f', '-'], stringify(grant));

  const image = grant.spec.image;
  const pod = node ? kubectlAs(state, 'admin', ['-n', 'shop', 'get', 'pods', '-l', 'app=checkout', '-o', 'jsonpath={.items[0].metadata.name}']) : 'checkout-1';
  process.stdout.write(
    [
      '',
      `debuggrant running locally. API server ${state.server}; Ctrl-C stops everything.`,
      node
        ? `  node:        ${node.nodeName} (kubelet + containerd, logs in ${nodeDir}); images: ${Object.values(node.images)
            .map((i) => i.ref)
            .join(', ')}`
        : '  node:        none (API-server-only mode: pods stay Pending)',
      `  kubeconfig:  ${state.kubeconfig}  (contexts: admin, alice, bob, gitops, carol)`,
      `  operator:    log ${operator.logFile}, metrics ${operator.metricsUrl}`,
      `  audit log:   ${state.auditLog}  (the API server's, config/audit/policy.yaml)`,
      '',
      "Try it from another shell (our kubectl matches the API server version; the machine's may not):",
      `  export KUBECONFIG=${state.kubeconfig}; alias kubectl=${state.kubectl}`,
      `  kubectl get dg -n shop -w`,
      `  kubectl --context alice -n shop auth can-i patch pods/${pod} --subresource=ephemeralcontainers`,
      node
        ? `  kubectl --context alice -n shop debug -it ${pod} --image=${image} --profile=restricted -- sh   # id -u: 65532`
        : `  kubectl --context alice -n shop debug ${pod} --image=${image} --profile=restricted`,
      `  kubectl --context bob -n shop debug ${pod} --image=${image}    # refused: bob has no grant`,
      `  kubectl describe dg -n shop inc-4211-checkout`,
      `  bash hack/with-node.sh node src/cli/main.ts report inc-4211-checkout -n shop --audit-log ${state.auditLog}   # after-action report`,
      '',
    ].join('\n'),
  );
  operator.child.once('exit', (code) => {
    say(`the operator exited (code ${String(code)}); see ${operator.logFile}`);
    shutdown(1);
  });
  setInterval(() => {
    if (!stopping && (!isAlive(state.pids.apiserver) || !isAlive(state.pids.etcd))) {
      say(`a control-plane process died; see ${state.dir}/*.log`);
      shutdown(1);
    }
  }, 2000);
}

const cmd = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'start';
const action = cmd === 'stop' ? stop : cmd === 'start' ? start : undefined;
if (!action) {
  say(`unknown command ${cmd}: use start (default) or stop`);
  process.exit(2);
}
action().catch((err: unknown) => {
  say(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
