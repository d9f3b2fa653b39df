// npm run bench -- cluster: the operator in a cluster-sized setup. Realistic pods (~4 KB,
// two containers, status written through the status subresource as a kubelet does) are
// added in steps (default 1,000 → 10,000 → 50,000) over 200 namespaces, with 1,000 active
// grants. At each step a freshly started operator is timed to /readyz, its peak RSS (VmHWM)
// taken over the start and the 15 s after it, and its RSS once settled. At the last step, pod status churns (50
// updates/s) while isolated expiries are measured. BENCH_VARIANTS runs several operators
// at every step (another checkout's src/main.ts, the bundle, other Node flags), for
// before/after numbers on the same pods. Writes bench/results/cluster.json. Never part of npm test.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { REPO_ROOT, installCrds } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane } from '../hack/controlplane/plane.ts';
import { spawnOperator } from '../hack/operator-process.ts';
import { rbacName } from '../src/api/names.ts';
import { mergePatch, type KubeApi } from '../src/kube/client.ts';
import { httpStatus } from '../src/runtime/errors.ts';
import { Semaphore } from './semaphore.ts';
import { realisticPodSpec, runningStatus } from '../test/support/pods.ts';
import { IMAGE, adminApi, createGrant, operatorHeap, operatorSettled, prepareNamespaces, processUsage, watchBindings } from './cluster.ts';
import { BindingEvents, measureIsolatedExpiries } from './expiry.ts';
import { ms, table, type Summary } from './stats.ts';

const STEPS = (process.env.BENCH_POD_STEPS ?? '1000,10000,50000').split(',').map(Number);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 200);
const GRANTS = Number(process.env.BENCH_GRANTS ?? 1000);
const CHURN_PER_S = Number(process.env.BENCH_CHURN ?? 50);
const CHURN_SECONDS = Number(process.env.BENCH_CHURN_SECONDS ?? 30);
const APPS = 5;
interface Variant {
  label: string;
  entry: string;
  nodeArgs: string[];
}
/** BENCH_VARIANTS: `label=entry [node flags…]`, comma-separated; the first one also activates the grants and runs the churn. */
const VARIANTS: Variant[] = (process.env.BENCH_VARIANTS ?? 'sources=src/main.ts').split(',').map((v) => {
  const at = v.indexOf('=');
  const [entry = '', ...nodeArgs] = v
    .slice(at + 1)
    .trim()
    .split(/\s+/);
  const label = v.slice(0, at);
  return { label, entry: isAbsolute(entry) ? entry : join(REPO_ROOT, entry), nodeArgs };
});
const say = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};

interface StartResult {
  variant: string;
  pods: number;
  readyMs: number | undefined;
  peakRssMb: number;
  steadyRssMb: number | undefined;
  heapUsedMb: number | undefined;
  startCpuSeconds: number;
  failed?: string;
}

/** Pod i lives in namespace i mod N; its app label makes 5 groups per namespace for the grants to select. */
export function podPlace(i: number, namespaces: string[]): { namespace: string; name: string; app: string } {
  const namespace = namespaces[i % namespaces.length] ?? '';
  const k = Math.floor(i / namespaces.length);
  return { namespace, name: `pod-${String(k).padStart(4, '0')}`, app: `svc-${String(k % APPS)}` };
}

/** On a loaded machine a write can time out; both writes here are safe to repeat. */
async function retried<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}

export async function addPods(api: KubeApi, namespaces: string[], from: number, to: number): Promise<void> {
  const limit = new Semaphore(24);
  const started = Date.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: to - from }, (_, j) =>
      limit.run(async () => {
        const i = from + j;
        const p = podPlace(i, namespaces);
        await retried(async () => {
          try {
            await api.core.createNamespacedPod({ namespace: p.namespace, body: realisticPodSpec(p.name, { app: p.app }, IMAGE) });
          } catch (err) {
            if (httpStatus(err) !== 409) throw err; // created by an attempt that timed out
          }
        });
        // As a kubelet reports it: through the status subresource.
        await retried(() => api.core.patchNamespacedPodStatus({ namespace: p.namespace, name: p.name, body: { status: runningStatus(i, IMAGE) } }, mergePatch));
        if (++done % 5000 === 0) say(`  ${String(from + done)} pods (${String(Math.round(done / ((Date.now() - started) / 1000)))}/s)`);
      }),
    ),
  );
}

/** Spawns the operator, times it to ready; reads its peak RSS then, and its RSS once it has settled. */
async function coldStart(variant: Variant, pods: number, dir: string, kubeconfig: string): Promise<StartResult> {
  const t0 = Date.now();
  const op = await spawnOperator({
    kubeconfig,
    dir,
    name: `cluster-${variant.label.replace(/\W+/g, '-')}-${String(pods)}`,
    entry: variant.entry,
    nodeArgs: variant.nodeArgs,
    config: { approvedRegistries: ['registry.example.com/debug/'], maxTtl: '4h', workers: 16, revocationSettle: '2s' },
    env: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' },
  });
  try {
    try {
      await op.waitUntilReady(10 * 60_000);
    } catch (err) {
      const usage = processUsageOrZero(op.pid);
      return {
        variant: variant.label,
        pods,
        readyMs: undefined,
        peakRssMb: usage.peakRssMb,
        steadyRssMb: undefined,
        heapUsedMb: undefined,
        startCpuSeconds: usage.cpuSeconds,
        failed: String(err),
      };
    }
    const readyMs = Date.now() - t0;
    const atReady = processUsage(op.pid);
    await operatorSettled(op.metricsUrl, 5000);
    await new Promise((r) => setTimeout(r, 10_000));
    const steady = processUsage(op.pid);
    const heap = await operatorHeap(op.metricsUrl);
    return {
      variant: variant.label,
      pods,
      readyMs,
      peakRssMb: steady.peakRssMb,
      steadyRssMb: steady.rssMb,
      heapUsedMb: heap.heapUsedMb,
      startCpuSeconds: atReady.cpuSeconds,
    };
  } finally {
    await op.stop();
  }
}

function processUsageOrZero(pid: number): { peakRssMb: number; cpuSeconds: number } {
  try {
    return processUsage(pid);
  } catch {
    return { peakRssMb: 0, cpuSeconds: 0 };
  }
}

/** Status writes at a steady rate, as kubelets report restarts and probes. */
function churn(api: KubeApi, namespaces: string[], pods: number, perSecond: number): { stop(): Promise<number> } {
  const state = { stopped: false };
  let sent = 0;
  const limit = new Semaphore(32);
  const loop = (async () => {
    const start = Date.now();
    while (!state.stopped) {
      const due = Math.floor(((Date.now() - start) / 1000) * perSecond);
      while (sent < due) {
        const i = Math.floor(Math.random() * pods);
        const p = podPlace(i, namespaces);
        sent++;
        void limit.run(() =>
          api.core
            .patchNamespacedPodStatus({ namespace: p.namespace, name: p.name, body: { status: runningStatus(i + sent, IMAGE) } }, mergePatch)
            .catch(() => undefined),
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      state.stopped = true;
      await loop;
      return sent;
    },
  };
}

export async function benchCluster(): Promise<void> {
  const started = Date.now();
  process.once('SIGINT', () => {
    process.exit(130);
  });
  process.once('SIGTERM', () => {
    process.exit(143);
  });
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-bench-cluster-'));
  const state = await startControlPlane({ dir, binDir: ensureBinaries(), progress: say });
  try {
    installCrds(state);
    const api = adminApi(state, 60_000);
    say(`preparing ${String(NAMESPACES)} namespaces`);
    const namespaces = await prepareNamespaces(api, NAMESPACES);

    say('idle: one grant, one pod per namespace');
    const events = new BindingEvents();
    const watch = await watchBindings(api, (t, k) => {
      events.handle(t, k);
    });
    const idleGrant = { namespace: namespaces[0] ?? '', name: 'idle', user: 'u-idle', ttl: '4h' };
    const idleBound = events.next('ADDED', idleGrant.namespace, rbacName(idleGrant.name));
    await createGrant(api, idleGrant);
    const idle: StartResult[] = [];
    for (const v of VARIANTS) {
      const r = await coldStart(v, NAMESPACES, dir, state.kubeconfig);
      say(`  idle ${v.label}: ready ${r.readyMs === undefined ? 'never' : ms(r.readyMs)}, RSS ${r.steadyRssMb?.toFixed(0) ?? '-'} MB`);
      idle.push(r);
      await idleBound;
    }

    const results: StartResult[] = [];
    let churnResult: ChurnResult | undefined;
    let pods = 0;
    for (const [s, step] of STEPS.entries()) {
      say(`adding pods ${String(pods)} → ${String(step)}`);
      await addPods(api, namespaces, pods, step);
      pods = step;
      if (s === 0) {
        say(`${String(GRANTS)} active grants (ttl 4h), ${String(GRANTS / NAMESPACES)} per namespace`);
        const limit = new Semaphore(32);
        const bound = Array.from({ length: GRANTS }, (_, j) => {
          const g = {
            namespace: namespaces[j % NAMESPACES] ?? '',
            name: `bg-${String(j)}`,
            user: `u-bg-${String(j)}`,
            ttl: '4h',
            app: `svc-${String(Math.floor(j / NAMESPACES) % APPS)}`,
          };
          return { g, added: events.next('ADDED', g.namespace, rbacName(g.name)) };
        });
        await Promise.all(bound.map(({ g }) => limit.run(() => createGrant(api, g))));
        // Activated by a running operator (the first variant), which then stops for the cold starts.
        const op = await spawnOperator({
          kubeconfig: state.kubeconfig,
          dir,
          name: 'cluster-activate',
          entry: VARIANTS[0]?.entry,
          nodeArgs: VARIANTS[0]?.nodeArgs,
          config: { approvedRegistries: ['registry.example.com/debug/'], maxTtl: '4h', workers: 16, revocationSettle: '2s' },
        });
        await Promise.all(bound.map((b) => b.added));
        await operatorSettled(op.metricsUrl, 3000);
        await op.stop();
      }
      for (const v of VARIANTS) {
        say(`${String(pods)} pods: cold start of ${v.label}`);
        const r = await coldStart(v, pods, dir, state.kubeconfig);
        say(
          `  ready ${r.readyMs === undefined ? `never (${r.failed ?? ''})` : ms(r.readyMs)}, peak RSS ${r.peakRssMb.toFixed(0)} MB, steady ${r.steadyRssMb?.toFixed(0) ?? '-'} MB`,
        );
        results.push(r);
        save(started, idle, results, undefined); // a long run stopped early keeps what it measured
      }
    }

    say(`churn: ${String(CHURN_PER_S)} pod status updates/s for ${String(CHURN_SECONDS)} s, isolated expiries meanwhile`);
    const first = VARIANTS[0];
    if (first) {
      const op = await spawnOperator({
        kubeconfig: state.kubeconfig,
        dir,
        name: 'cluster-churn',
        entry: first.entry,
        nodeArgs: first.nodeArgs,
        config: { approvedRegistries: ['registry.example.com/debug/'], maxTtl: '4h', workers: 16, revocationSettle: '2s' },
      });
      await op.waitUntilReady(10 * 60_000);
      await operatorSettled(op.metricsUrl, 3000);
      const cpu0 = processUsage(op.pid).cpuSeconds;
      const t0 = Date.now();
      const load = churn(api, namespaces, pods, CHURN_PER_S);
      let seq = 0;
      const isolated = await measureIsolatedExpiries(api, events, (prefix) => {
        const i = seq++;
        return { namespace: namespaces[i % NAMESPACES] ?? '', name: `${prefix}-${String(i)}`, user: `u-${prefix}-${String(i)}` };
      });
      const remaining = CHURN_SECONDS * 1000 - (Date.now() - t0);
      if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
      const sent = await load.stop();
      const seconds = (Date.now() - t0) / 1000;
      const usage = processUsage(op.pid);
      churnResult = { isolated, updatesPerS: sent / seconds, cpuPercent: ((usage.cpuSeconds - cpu0) / seconds) * 100, rssMb: usage.rssMb };
      await op.stop();
    }
    await watch.stop();

    const report = save(started, idle, results, churnResult);
    process.stdout.write(`\n${render(report)}\n\nJSON: bench/results/cluster.json (${String(report.durationSeconds)} s)\n`);
  } finally {
    await stopControlPlane(state);
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

type ChurnResult = { isolated: Summary; updatesPerS: number; cpuPercent: number; rssMb: number };

function save(started: number, idle: StartResult[], starts: StartResult[], churn: ChurnResult | undefined) {
  const report = {
    when: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', node: process.version },
    settings: { steps: STEPS, namespaces: NAMESPACES, grants: GRANTS, churnPerS: CHURN_PER_S, churnSeconds: CHURN_SECONDS, variants: VARIANTS },
    idle,
    starts,
    churn,
  };
  mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'bench/results/cluster.json'), JSON.stringify(report, null, 2));
  return report;
}

function render(r: { idle: StartResult[]; starts: StartResult[]; churn?: ChurnResult | undefined }): string {
  const mb = (v: number | undefined): string => (v === undefined ? '-' : `${v.toFixed(0)} MB`);
  const row = (x: StartResult, what: string): string[] => [
    what,
    x.variant,
    x.readyMs === undefined ? `not ready (${(x.failed ?? '').slice(0, 40)})` : ms(x.readyMs),
    mb(x.peakRssMb),
    mb(x.steadyRssMb),
    mb(x.heapUsedMb),
    `${x.startCpuSeconds.toFixed(1)} s`,
  ];
  const lines = [
    table(
      ['setup', 'operator', 'start → ready', 'peak RSS (VmHWM)', 'steady RSS', 'V8 heap used', 'CPU to ready'],
      [...r.idle.map((x) => row(x, 'idle: 1 grant, 1 pod/namespace')), ...r.starts.map((x) => row(x, `${String(x.pods)} pods, ${String(GRANTS)} grants`))],
    ),
  ];
  if (r.churn) {
    const c = r.churn;
    lines.push(
      '',
      `churn at ${String(r.starts.at(-1)?.pods ?? 0)} pods: ${c.updatesPerS.toFixed(0)} status updates/s; operator CPU ${c.cpuPercent.toFixed(0)} %, RSS ${mb(c.rssMb)}; ` +
        `isolated expiry lateness p50 ${ms(c.isolated.p50)}, p99 ${ms(c.isolated.p99)}, max ${ms(c.isolated.max)} (n ${String(c.isolated.n)})`,
    );
  }
  return lines.join('\n');
}
