// Foreground local environment: starts the control plane, prints how to use it,
// and stops everything on Ctrl-C. `stop` stops a plane another process left behind.
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ensureBinaries } from './controlplane/binaries.ts';
import { readState, startControlPlane, stateFile, stopControlPlane } from './controlplane/plane.ts';
import { isAlive } from './controlplane/processes.ts';

const dir = resolve(process.env.DEBUGGRANT_LOCAL_DIR ?? '.local');
const say = (msg: string): void => { process.stderr.write(`[local] ${msg}\n`); };

async function stop(): Promise<void> {
  if (!existsSync(stateFile(dir))) {
    say(`no control plane state in ${dir}`);
    return;
  }
  await stopControlPlane(readState(dir));
  say('stopped');
}

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
  // state.json also at the top of .local so `stop` finds it.
  writeFileSync(stateFile(dir), JSON.stringify(state, null, 2), { mode: 0o600 });
  const k = `KUBECONFIG=${state.kubeconfig} ${state.kubectl}`;
  process.stdout.write([
    '',
    `Control plane running at ${state.server} (Ctrl-C stops it).`,
    `Kubeconfig: ${state.kubeconfig}  contexts: admin, alice, bob, gitops, carol`,
    '',
    'From another shell:',
    `  ${k} get namespaces`,
    `  ${k} --context alice auth can-i patch pods --subresource=ephemeralcontainers`,
    `  ${k} --context admin auth can-i --list --as alice`,
    '',
  ].join('\n'));
  const shutdown = (): void => {
    say('stopping');
    void stopControlPlane(state).then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  setInterval(() => {
    if (!isAlive(state.pids.apiserver) || !isAlive(state.pids.etcd)) {
      say(`a control-plane process died; see ${state.dir}/*.log`);
      void stopControlPlane(state).then(() => process.exit(1));
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
