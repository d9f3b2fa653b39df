// npm run trials -- restart: how long a single replica's restart leaves access that should
// have ended. For each pod count (pods of realistic size, status as a kubelet writes it, over
// 50 namespaces; the operator watches them all) and each entry point (the bundle, what the
// image runs; the TypeScript sources): a grant is activated, the operator killed (SIGKILL)
// before its deadline and started again after it; measured from the restart's spawn until
// SubjectAccessReview denies (the RoleBinding is gone) and until /readyz (every cache,
// pods included, listed). Never part of npm test.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { REPO_ROOT, installCrds } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane, type PlaneState } from '../hack/controlplane/plane.ts';
import { buildOperatorBundle, spawnOperator, type OperatorProcess } from '../hack/operator-process.ts';
import type { KubeApi } from '../src/kube/client.ts';
import { addPods } from './cluster-scale.ts';
import { adminApi, createGrant, prepareNamespaces, userCanExec, waitForAccess } from './cluster.ts';
import { ms, summarize, table } from './stats.ts';

const NAMESPACES = 50;
/** Long enough for the activation on a loaded machine; the kill comes after it. */
const DEADLINE_AFTER_MS = 5000;
const say = (m: string): void => {
  process.stderr.write(`[restart ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, t)));

export interface RestartOptions {
  podSteps: number[];
  runs: number;
  entries: string[];
}

/** From the restart's spawn: its first log line (the process is up), deadlines armed (three lists), access ended, /readyz. */
interface Measured {
  entry: string;
  pods: number;
  upMs: number;
  armedMs: number;
  revokedMs: number;
  readyMs: number;
}

/** When the operator logged `msg` first, from its JSON log. */
function loggedAt(logFile: string, msg: string): number {
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as { msg?: string; time?: string };
    if (l.msg === msg) return Date.parse(l.time ?? '');
  }
  return NaN;
}

let seq = 0;

async function restartOnce(
  state: PlaneState,
  dir: string,
  api: KubeApi,
  namespace: string,
  entry: { label: string; path: string },
  pods: number,
): Promise<Measured> {
  const n = seq++;
  const spawn = (which: string): Promise<OperatorProcess> =>
    spawnOperator({
      kubeconfig: state.kubeconfig,
      dir,
      name: `restart-${entry.label}-${String(n)}-${which}`,
      entry: entry.path,
      config: { approvedRegistries: ['registry.example.com/debug/'], maxTtl: '4h', workers: 16, revocationSettle: '2s' },
      env: { LOG_LEVEL: 'info' },
    });
  const before = await spawn('killed');
  await before.waitUntilReady(10 * 60_000);
  const user = `u-restart-${String(n)}`;
  const notAfter = Date.now() + DEADLINE_AFTER_MS;
  await createGrant(api, { namespace, name: `restart-${String(n)}`, user, ttl: '1h', notAfter: new Date(notAfter).toISOString() });
  await waitForAccess(api, user, namespace, true, 60_000, 20);
  await before.kill();
  await sleep(notAfter + 500 - Date.now());
  if (!(await userCanExec(api, user, namespace))) throw new Error('access ended while no operator ran: nothing to measure');
  const spawnedAt = Date.now();
  const after = await spawn('restarted');
  try {
    const [deniedAt, readyAt] = await Promise.all([
      waitForAccess(api, user, namespace, false, 10 * 60_000, 10),
      after.waitUntilReady(10 * 60_000).then(() => Date.now()),
    ]);
    return {
      entry: entry.label,
      pods,
      upMs: loggedAt(after.logFile, 'starting') - spawnedAt,
      armedMs: loggedAt(after.logFile, 'grants, index entries and RoleBindings listed; deadlines armed') - spawnedAt,
      revokedMs: deniedAt - spawnedAt,
      readyMs: readyAt - spawnedAt,
    };
  } finally {
    await after.stop();
  }
}

export async function benchRestart(o: RestartOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-restart-'));
  const state = await startControlPlane({ dir, binDir: ensureBinaries(), progress: say });
  try {
    installCrds(state);
    const api = adminApi(state, 60_000);
    const namespaces = await prepareNamespaces(api, NAMESPACES);
    // `bundle`, `sources`, or `label=path` (another checkout's entry point, for before/after).
    const entries = o.entries.map((e) => {
      const [label = '', path] = e.split('=');
      return { label, path: path ?? (label === 'bundle' ? buildOperatorBundle(dir) : join(REPO_ROOT, 'src/main.ts')) };
    });
    const results: Measured[] = [];
    let pods = 0;
    for (const step of o.podSteps) {
      if (step > pods) {
        say(`adding pods ${String(pods)} → ${String(step)}`);
        await addPods(api, namespaces, pods, step);
        pods = step;
      }
      for (const entry of entries) {
        for (let r = 0; r < o.runs; r++) {
          const m = await restartOnce(state, dir, api, namespaces[0] ?? '', entry, pods);
          say(
            `${entry.label}, ${String(pods)} pods: process up ${ms(m.upMs)}, deadlines armed ${ms(m.armedMs)}, access ended ${ms(m.revokedMs)}, /readyz ${ms(m.readyMs)} after the restart's spawn`,
          );
          results.push(m);
        }
      }
    }
    const rows = o.podSteps.flatMap((p) =>
      entries.map((e) => {
        const mine = results.filter((m) => m.pods === p && m.entry === e.label);
        const p50max = (pick: (m: Measured) => number): string[] => {
          const x = summarize(mine.map(pick));
          return [ms(x.p50), ms(x.max)];
        };
        return [
          e.label,
          String(p),
          String(mine.length),
          ...p50max((m) => m.upMs),
          ...p50max((m) => m.armedMs),
          ...p50max((m) => m.revokedMs),
          ...p50max((m) => m.readyMs),
        ];
      }),
    );
    const headers = ['entry', 'pods', 'runs', 'process up p50', 'max', 'deadlines armed p50', 'max', 'access ended p50', 'max', '/readyz p50', 'max'];
    process.stdout.write(`\nkill -9 before a deadline, restarted after it (times from the restart's spawn)\n${table(headers, rows)}\n`);
  } finally {
    await stopControlPlane(state);
    say(`logs in ${dir}`);
  }
}
