// npm run bench -- second-deadline: how late access ends when no operator runs at all (the
// second deadline path: each grant's timer Job, src/revocation/timer-job.ts, fired by
// kube-controller-manager's Job, TTL-after-finished and garbage collector controllers), beside
// the operator's own lateness, on a real node. Each round: BENCH_GRANTS grants (default 24)
// whose deadlines (notAfter) are spread over ~7 s, judged by SubjectAccessReview from outside.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { installCrds } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane, type PlaneState } from '../hack/controlplane/plane.ts';
import { startNodeIfPossible, stopNode, type NodeState } from '../hack/node/node.ts';
import { GROUP, PLURAL, VERSION } from '../src/api/schema.ts';
import type { DebugGrant } from '../src/api/types.ts';
import type { KubeApi } from '../src/kube/client.ts';
import { SECOND_DEADLINE } from '../src/revocation/timer-job.ts';
import { adminApi, createGrant, prepareNamespaces, startOperator, waitForAccess, type OperatorProcess } from './cluster.ts';
import { ms, summarize, table, type Summary } from './stats.ts';

const GRANTS = Number(process.env.BENCH_GRANTS ?? 24);
const SPREAD_MS = 300;
const say = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

async function timerArmed(api: KubeApi, namespace: string, name: string): Promise<boolean> {
  const g = (await api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name })) as DebugGrant;
  return g.status?.conditions?.some((c) => c.type === SECOND_DEADLINE && c.reason === 'TimerArmed') === true;
}

/**
 * One round: grants created while an operator runs; with `operatorStops`, it is stopped once
 * every timer is armed, before the first deadline. Lateness = SAR denies - deadline.
 */
async function round(state: PlaneState, dir: string, api: KubeApi, namespaces: string[], label: string, operatorStops: boolean): Promise<Summary> {
  let op: OperatorProcess | undefined = await startOperator(state, dir, 4);
  try {
    const first = Date.now() + 20_000 + GRANTS * 150;
    const grants = Array.from({ length: GRANTS }, (_, i) => ({
      namespace: namespaces[i % namespaces.length] ?? '',
      name: `${label}-${String(i)}`,
      user: `u-${label}-${String(i)}`,
      at: first + i * SPREAD_MS,
    }));
    await Promise.all(grants.map((g) => createGrant(api, { ...g, ttl: '4h', notAfter: new Date(g.at).toISOString() })));
    for (const g of grants) await waitForAccess(api, g.user, g.namespace, true, 60_000, 50);
    for (const g of grants) {
      while (!(await timerArmed(api, g.namespace, g.name))) await new Promise((r) => setTimeout(r, 100));
    }
    if (operatorStops) {
      await op.stop();
      op = undefined;
      if (Date.now() >= first)
        throw new Error(`the operator stopped ${String(Date.now() - first)} ms after the first deadline: too slow a machine for this round`);
      say(`${label}: every timer armed; no operator runs from ${String(first - Date.now())} ms before the first deadline`);
    }
    const lateness = await Promise.all(grants.map(async (g) => (await waitForAccess(api, g.user, g.namespace, false, 60_000, 50)) - g.at));
    return summarize(lateness);
  } finally {
    await op?.stop();
  }
}

export async function benchSecondDeadline(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-bench-second-'));
  const state = await startControlPlane({ dir: join(dir, 'plane'), binDir: ensureBinaries(), progress: say });
  let node: NodeState | undefined;
  try {
    node = (await startNodeIfPossible({ plane: state, dir: join(dir, 'node'), progress: say, require: true })).node;
    installCrds(state);
    const api = adminApi(state);
    const namespaces = await prepareNamespaces(api, 8);
    say(`load before: ${load()}`);
    const down = await round(state, dir, api, namespaces, 'down', true);
    const loadDown = load();
    const up = await round(state, dir, api, namespaces, 'up', false);
    const row = (what: string, s: Summary, l: string): string[] => [what, ms(s.p50), ms(s.p99), ms(s.max), String(s.n), l];
    process.stdout.write(
      `\n${table(
        ['deadline → SAR denies (exec)', 'p50', 'p99', 'max', 'n', 'load (1/5/15 min)'],
        [row('no operator running (timer Jobs: kube-controller-manager)', down, loadDown), row('operator running (its own deadline path)', up, load())],
      )}\n`,
    );
  } finally {
    if (node) await stopNode(node);
    await stopControlPlane(state);
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}
