// npm run bench -- cluster: the operator in a cluster-sized setup. Realistic pods (~12 KB
// as JSON: two containers, a ReplicaSet owner, status as a kubelet writes it, the API
// server's managedFields) are added in steps (default 50,000 → 150,000) over 200
// namespaces (bench/pod-fill.ts writes them into etcd: minutes, not hours), with 1,000
// active grants. After each fill the first variant runs until the grants' Roles name the
// new pods and it is quiet, so no cold start pays for activation; then each variant is
// started fresh (BENCH_ROUNDS times, alternating), timed to /readyz, its peak RSS (VmHWM)
// taken over the start and the 15 s after it, and its RSS once settled. At the last step,
// for each variant, pods churn (status updates as kubelets send them, and pods created and
// deleted) while isolated expiries are measured. BENCH_VARIANTS runs several operators
// (another checkout's bundle, other Node flags), for before/after numbers on the same pods.
// Writes bench/results/cluster.json. Never part of npm test.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { REPO_ROOT, installCrds } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane, type PlaneState } from '../hack/controlplane/plane.ts';
import { spawnOperator } from '../hack/operator-process.ts';
import { rbacName } from '../src/api/names.ts';
import { mergePatch, type KubeApi } from '../src/kube/client.ts';
import { httpStatus } from '../src/runtime/errors.ts';
import { Semaphore } from './semaphore.ts';
import { realisticPodSpec, runningStatus } from '../test/support/pods.ts';
import { IMAGE, adminApi, createGrant, operatorHeap, operatorSettled, prepareNamespaces, processUsage, watchBindings } from './cluster.ts';
import { BindingEvents, measureIsolatedExpiries } from './expiry.ts';
import { adminCall, fillPods, podPlace } from './pod-fill.ts';
import { ms, table, type Summary } from './stats.ts';

const STEPS = (process.env.BENCH_POD_STEPS ?? '50000,150000').split(',').map(Number);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 200);
const GRANTS = Number(process.env.BENCH_GRANTS ?? 1000);
const CHURN_PER_S = Number(process.env.BENCH_CHURN ?? 50);
/** Pods created (and as many deleted) per second during the churn, besides the status updates. */
const CHURN_CREATES_PER_S = Number(process.env.BENCH_CHURN_CREATES ?? 5);
const CHURN_SECONDS = Number(process.env.BENCH_CHURN_SECONDS ?? 60);
/** Cold starts per variant and step, alternating variants, so load hits each alike. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
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
  /** 1-minute load average when it was ready: the machine is shared. */
  load: number;
  failed?: string;
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
        load: loadavg()[0] ?? 0,
        failed: String(err),
      };
    }
    const readyMs = Date.now() - t0;
    const atReady = processUsage(op.pid);
    const load = loadavg()[0] ?? 0;
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
      load,
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

/**
 * Pods change as in a busy cluster: status writes at `statusPerS` (kubelets reporting
 * restarts and probes, through pods/status), and `createsPerS` pods created (status then
 * written as the kubelet does) and as many older ones deleted.
 */
function churn(
  state: PlaneState,
  namespaces: string[],
  pods: number,
  statusPerS: number,
  createsPerS: number,
  prefix: string,
): { stop(): Promise<ChurnCounts> } {
  const counts: ChurnCounts = { statusUpdates: 0, creates: 0, deletes: 0, failed: 0 };
  const run = { stopped: false };
  const limit = new Semaphore(32);
  const born: { namespace: string; name: string }[] = [];
  const send = (write: () => Promise<unknown>, counted: keyof ChurnCounts): void => {
    void limit.run(() =>
      write().then(
        () => {
          counts[counted]++;
        },
        () => {
          counts.failed++;
        },
      ),
    );
  };
  const loop = (async () => {
    const start = Date.now();
    let statusDue = 0;
    let createDue = 0;
    while (!run.stopped) {
      const elapsed = (Date.now() - start) / 1000;
      for (; statusDue < Math.floor(elapsed * statusPerS); statusDue++) {
        const i = Math.floor(Math.random() * pods);
        const p = podPlace(i, namespaces);
        send(
          () =>
            adminCall(
              state,
              'PATCH',
              `/api/v1/namespaces/${p.namespace}/pods/${p.name}/status?fieldManager=kubelet`,
              { status: runningStatus(i + statusDue, IMAGE) },
              'application/strategic-merge-patch+json',
            ),
          'statusUpdates',
        );
      }
      for (; createDue < Math.floor(elapsed * createsPerS); createDue++) {
        const p = { namespace: namespaces[createDue % namespaces.length] ?? '', name: `${prefix}-${String(createDue)}` };
        const base = `/api/v1/namespaces/${p.namespace}/pods`;
        send(async () => {
          await adminCall(state, 'POST', `${base}?fieldManager=kube-controller-manager`, realisticPodSpec(p.name, { app: 'churn' }, IMAGE));
          await adminCall(
            state,
            'PATCH',
            `${base}/${p.name}/status?fieldManager=kubelet`,
            { status: runningStatus(createDue, IMAGE) },
            'application/strategic-merge-patch+json',
          );
          born.push(p);
        }, 'creates');
        // The population stays steady: each create beyond the first 10 s' worth deletes the oldest.
        const old = born.length > createsPerS * 10 ? born.shift() : undefined;
        if (old) send(() => adminCall(state, 'DELETE', `/api/v1/namespaces/${old.namespace}/pods/${old.name}`, { gracePeriodSeconds: 0 }), 'deletes');
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      run.stopped = true;
      await loop;
      return counts;
    },
  };
}

interface ChurnCounts {
  statusUpdates: number;
  creates: number;
  deletes: number;
  failed: number;
}

/**
 * Runs `variant` until it is ready and quiet (and `until` resolved): the grants' Roles then
 * name every pod they select. An operator that dies on the way (the shared machine has seen
 * processes killed) is started again, at most three times.
 */
async function settleGrants(variant: Variant, dir: string, kubeconfig: string, until?: Promise<unknown>): Promise<number> {
  const t0 = Date.now();
  for (let attempt = 1; ; attempt++) {
    const op = await spawnOperator({
      kubeconfig,
      dir,
      name: 'cluster-settle',
      entry: variant.entry,
      nodeArgs: variant.nodeArgs,
      config: { approvedRegistries: ['registry.example.com/debug/'], maxTtl: '4h', workers: 16, revocationSettle: '2s' },
    });
    const exited = new Promise<string>((resolve) =>
      op.child.once('exit', (code, signal) => {
        resolve(`exited (${String(code ?? signal)})`);
      }),
    );
    try {
      const outcome = await Promise.race([
        (async () => {
          await op.waitUntilReady(20 * 60_000);
          await until;
          await operatorSettled(op.metricsUrl, 5000);
          return 'quiet';
        })(),
        exited,
      ]);
      if (outcome === 'quiet') return Date.now() - t0;
      if (attempt >= 3) throw new Error(`the settling operator ${outcome} three times; see ${op.logFile}`);
      say(`  the settling operator ${outcome}; starting it again`);
    } catch (err) {
      if (attempt >= 3 || op.child.exitCode === null) throw err;
      say(`  the settling operator failed (${String(err)}); starting it again`);
    } finally {
      await op.stop();
    }
  }
}

/** One variant started among churning pods: isolated expiries measured meanwhile. */
async function churnRun(
  variant: Variant,
  state: PlaneState,
  dir: string,
  events: BindingEvents,
  namespaces: string[],
  pods: number,
  seq: { n: number },
): Promise<ChurnResult> {
  const op = await spawnOperator({
    kubeconfig: state.kubeconfig,
    dir,
    name: `cluster-churn-${variant.label.replace(/\W+/g, '-')}`,
    entry: variant.entry,
    nodeArgs: variant.nodeArgs,
    config: { approvedRegistries: ['registry.example.com/debug/'], maxTtl: '4h', workers: 16, revocationSettle: '2s' },
    env: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' },
  });
  try {
    await op.waitUntilReady(20 * 60_000);
    await operatorSettled(op.metricsUrl, 3000);
    const cpu0 = processUsage(op.pid).cpuSeconds;
    const t0 = Date.now();
    // Names of its own: the pods the previous variant's churn left must not turn these creates into conflicts.
    const load = churn(state, namespaces, pods, CHURN_PER_S, CHURN_CREATES_PER_S, `churn-${variant.label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`);
    const isolated = await measureIsolatedExpiries(
      adminApi(state, 60_000),
      events,
      (prefix) => {
        const i = seq.n++;
        return { namespace: namespaces[i % namespaces.length] ?? '', name: `${prefix}-${String(i)}`, user: `u-${prefix}-${String(i)}` };
      },
      20,
      15_000,
    );
    const remaining = CHURN_SECONDS * 1000 - (Date.now() - t0);
    if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
    const counts = await load.stop();
    const seconds = (Date.now() - t0) / 1000;
    const usage = processUsage(op.pid);
    return {
      variant: variant.label,
      isolated,
      ...counts,
      statusPerS: counts.statusUpdates / seconds,
      createsPerS: counts.creates / seconds,
      cpuPercent: ((usage.cpuSeconds - cpu0) / seconds) * 100,
      rssMb: usage.rssMb,
      peakRssMb: usage.peakRssMb,
      load: loadavg()[0] ?? 0,
    };
  } finally {
    await op.stop();
  }
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
  // 150,000 pods of ~12 KB are ~2 GB in etcd: past its default 2 GiB quota, as in real clusters of that size.
  const state = await startControlPlane({ dir, binDir: ensureBinaries(), progress: say, extraEtcdArgs: ['--quota-backend-bytes=8589934592'] });
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

    const first = VARIANTS[0];
    if (!first) throw new Error('BENCH_VARIANTS names no operator');
    const results: StartResult[] = [];
    const churns: ChurnResult[] = [];
    let pods = 0;
    for (const [s, step] of STEPS.entries()) {
      say(`adding pods ${String(pods)} → ${String(step)}`);
      await fillPods(state, namespaces, pods, step, IMAGE, say);
      pods = step;
      let bound: Promise<unknown> | undefined;
      if (s === 0) {
        say(`${String(GRANTS)} active grants (ttl 4h), ${String(GRANTS / NAMESPACES)} per namespace`);
        const limit = new Semaphore(32);
        const grants = Array.from({ length: GRANTS }, (_, j) => {
          const g = {
            namespace: namespaces[j % NAMESPACES] ?? '',
            name: `bg-${String(j)}`,
            user: `u-bg-${String(j)}`,
            ttl: '4h',
            app: `svc-${String(Math.floor(j / NAMESPACES) % APPS)}`,
          };
          return { g, added: events.next('ADDED', g.namespace, rbacName(g.name)) };
        });
        await Promise.all(grants.map(({ g }) => limit.run(() => createGrant(api, g))));
        bound = Promise.all(grants.map((b) => b.added));
      }
      // Activated (first step) or brought up to date with the new pods by the first variant,
      // which then stops: the cold starts below find the grants' RBAC already as it should be.
      say(`${String(pods)} pods: ${first.label} brings the grants up to date`);
      const settleMs = await settleGrants(first, dir, state.kubeconfig, bound);
      say(`  quiet after ${ms(settleMs)}`);
      for (let round = 0; round < ROUNDS; round++) {
        for (const v of (round + s) % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
          say(`${String(pods)} pods: cold start of ${v.label}`);
          const r = await coldStart(v, pods, dir, state.kubeconfig);
          say(
            `  ready ${r.readyMs === undefined ? `never (${r.failed ?? ''})` : ms(r.readyMs)}, peak RSS ${r.peakRssMb.toFixed(0)} MB, steady ${r.steadyRssMb?.toFixed(0) ?? '-'} MB, load ${r.load.toFixed(1)}`,
          );
          results.push(r);
          save(started, idle, results, churns); // a long run stopped early keeps what it measured
        }
      }
    }

    const churnSeq = { n: 0 };
    for (const v of VARIANTS) {
      say(
        `churn with ${v.label}: ${String(CHURN_PER_S)} pod status updates/s, ${String(CHURN_CREATES_PER_S)} pod creates (and deletes)/s for ${String(CHURN_SECONDS)} s, isolated expiries meanwhile`,
      );
      const c = await churnRun(v, state, dir, events, namespaces, pods, churnSeq);
      say(`  isolated expiry p50 ${ms(c.isolated.p50)}, p99 ${ms(c.isolated.p99)} (n ${String(c.isolated.n)}), load ${c.load.toFixed(1)}`);
      churns.push(c);
      save(started, idle, results, churns);
    }
    await watch.stop();

    const report = save(started, idle, results, churns);
    process.stdout.write(`\n${render(report)}\n\nJSON: bench/results/cluster.json (${String(report.durationSeconds)} s)\n`);
  } finally {
    await stopControlPlane(state);
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

type ChurnResult = ChurnCounts & {
  variant: string;
  isolated: Summary;
  statusPerS: number;
  createsPerS: number;
  cpuPercent: number;
  rssMb: number;
  peakRssMb: number;
  load: number;
};

function save(started: number, idle: StartResult[], starts: StartResult[], churns: ChurnResult[]) {
  const report = {
    when: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', node: process.version },
    settings: {
      steps: STEPS,
      namespaces: NAMESPACES,
      grants: GRANTS,
      churnPerS: CHURN_PER_S,
      churnCreatesPerS: CHURN_CREATES_PER_S,
      churnSeconds: CHURN_SECONDS,
      rounds: ROUNDS,
      variants: VARIANTS,
    },
    idle,
    starts,
    churns,
  };
  mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'bench/results/cluster.json'), JSON.stringify(report, null, 2));
  return report;
}

function render(r: { idle: StartResult[]; starts: StartResult[]; churns: ChurnResult[] }): string {
  const mb = (v: number | undefined): string => (v === undefined ? '-' : `${v.toFixed(0)} MB`);
  const row = (x: StartResult, what: string): string[] => [
    what,
    x.variant,
    x.readyMs === undefined ? `not ready (${(x.failed ?? '').slice(0, 40)})` : ms(x.readyMs),
    mb(x.peakRssMb),
    mb(x.steadyRssMb),
    mb(x.heapUsedMb),
    `${x.startCpuSeconds.toFixed(1)} s`,
    x.load.toFixed(1),
  ];
  const lines = [
    table(
      ['setup', 'operator', 'start → ready', 'peak RSS (VmHWM)', 'steady RSS', 'V8 heap used', 'CPU to ready', 'load (1 min)'],
      [...r.idle.map((x) => row(x, 'idle: 1 grant, 1 pod/namespace')), ...r.starts.map((x) => row(x, `${String(x.pods)} pods, ${String(GRANTS)} grants`))],
    ),
  ];
  if (r.churns.length > 0) {
    lines.push(
      '',
      table(
        [
          'churn at',
          'operator',
          'status updates/s',
          'pod creates/s',
          'failed writes',
          'isolated expiry p50 / p99 / max',
          'operator CPU',
          'RSS / peak',
          'load (1 min)',
        ],
        r.churns.map((c) => [
          `${String(r.starts.at(-1)?.pods ?? 0)} pods`,
          c.variant,
          c.statusPerS.toFixed(0),
          c.createsPerS.toFixed(1),
          String(c.failed),
          `${ms(c.isolated.p50)} / ${ms(c.isolated.p99)} / ${ms(c.isolated.max)} (n ${String(c.isolated.n)})`,
          `${c.cpuPercent.toFixed(0)} %`,
          `${mb(c.rssMb)} / ${mb(c.peakRssMb)}`,
          c.load.toFixed(1),
        ]),
      ),
    );
  }
  return lines.join('\n');
}
