// npm run bench: how late can access outlive its TTL, and how does that grow with many
// grants? Measured in one run on the real local control plane, against the real operator
// (its own process and informers), by SubjectAccessReview from outside. Side by side: a
// 30 s polling reaper (cron-style cleaner) and the floor (an admin deleting a RoleBinding
// directly). Prints a table and writes bench/results/latest.json. Never part of npm test.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { REPO_ROOT, installCrds } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane } from '../hack/controlplane/plane.ts';
import { rbacName } from '../src/api/names.ts';
import type { KubeApi } from '../src/kube/client.ts';
import { Semaphore } from './semaphore.ts';
import {
  adminApi,
  bindUser,
  createGrant,
  operatorHeap,
  operatorRequestLatency,
  operatorRequests,
  operatorSettled,
  prepareNamespaces,
  processUsage,
  startOperator,
  waitForAccess,
  watchBindings,
  type OperatorProcess,
} from './cluster.ts';
import { BindingEvents, measureFloorExpiries, measureIsolatedExpiries, type Next } from './expiry.ts';
import { ms, summarize, table, type Summary } from './stats.ts';

const SCALES = (process.env.BENCH_SCALES ?? '100,1000,10000').split(',').map(Number);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 100);
/** The operator configuration's default (src/config.ts): what ships. */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const ACTIVATIONS = Number(process.env.BENCH_ACTIVATIONS ?? 200);
const BURST = Number(process.env.BENCH_BURST ?? 1000);
const POLL_INTERVAL_MS = 30_000;
/** BENCH_ONLY=isolated,burst,floor runs just those scenarios (default: all of them). */
const SCENARIOS = ['activation', 'isolated', 'burst', 'lifecycle', 'floor', 'polling'] as const;
const ONLY = process.env.BENCH_ONLY?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const s of ONLY ?? [])
  if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`BENCH_ONLY: unknown scenario ${s} (known: ${SCENARIOS.join(', ')})`);
const runs = (scenario: (typeof SCENARIOS)[number]): boolean => !ONLY || ONLY.includes(scenario);
const skipped = summarize([]);
/** Every line says the machine's load average (1 min): latency on a shared machine means little without it. */
const say = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)} load ${(loadavg()[0] ?? NaN).toFixed(1)}] ${m}\n`);
};
const sleep = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t)));

interface ScaleResult {
  scale: number;
  activation: Summary;
  /** Where activation's time goes: create → the operator's RoleBinding exists, and from there → SAR allows. */
  toBinding: Summary;
  bindingToAllowed: Summary;
  isolated: Summary;
  burst: Summary;
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  cpuSeconds: number;
  apiLatency: Record<string, { count: number; meanMs: number }>;
}

async function main(): Promise<void> {
  const started = Date.now();
  process.once('SIGINT', () => {
    process.exit(130);
  });
  process.once('SIGTERM', () => {
    process.exit(143);
  });
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-bench-'));
  const state = await startControlPlane({ dir, binDir: ensureBinaries(), progress: say });
  let op: OperatorProcess | undefined;
  try {
    installCrds(state);
    const api = adminApi(state);
    say(`preparing ${String(NAMESPACES)} namespaces, one target pod each`);
    const namespaces = await prepareNamespaces(api, NAMESPACES);
    op = await startOperator(state, dir, WORKERS);
    const events = new BindingEvents();
    const watch = await watchBindings(api, (t, k) => {
      events.handle(t, k);
    });
    let seq = 0;
    const next = (prefix: string) => {
      const i = seq++;
      return { namespace: namespaces[i % namespaces.length] ?? '', name: `${prefix}-${String(i)}`, user: `u-${prefix}-${String(i)}` };
    };

    const results: ScaleResult[] = [];
    let active = 0;
    /** How long the fill took per grant (create → RoleBinding, 32 at a time): how fast this operator activates, under this load. */
    let fillMsPerGrant = 0;
    for (const scale of SCALES) {
      say(`scale ${String(scale)}: filling to ${String(scale)} active grants`);
      const fillStarted = Date.now();
      const fill = new Semaphore(32);
      await Promise.all(
        Array.from({ length: Math.max(0, scale - active) }, () =>
          fill.run(async () => {
            const g = next('bg');
            const added = events.next('ADDED', g.namespace, rbacName(g.name));
            await createGrant(api, { ...g, ttl: '4h' });
            await added;
          }),
        ),
      );
      if (scale > active) fillMsPerGrant = (Date.now() - fillStarted) / (scale - active);
      active = scale;
      await operatorSettled(op.metricsUrl);
      say(`scale ${String(scale)}: filled at ${(1000 / fillMsPerGrant).toFixed(1)} grants/s`);

      say(`scale ${String(scale)}: ${String(ACTIVATIONS)} activations at 100/s`);
      const { activation, toBinding, bindingToAllowed } = runs('activation')
        ? await measureActivations(api, events, next, Math.min(ACTIVATIONS, scale))
        : { activation: skipped, toBinding: skipped, bindingToAllowed: skipped };
      say(`scale ${String(scale)}: 10 isolated expiries`);
      const isolated = runs('isolated') ? (await measureIsolatedExpiries(api, events, next)).lateness : skipped;
      const burstSize = Math.min(BURST, scale);
      say(`scale ${String(scale)}: ${String(burstSize)} grants expiring in the same second`);
      const burst = runs('burst') ? await measureBurst(api, events, next, burstSize, fillMsPerGrant) : skipped;
      await operatorSettled(op.metricsUrl);
      const usage = { ...processUsage(op.child.pid ?? 0), ...(await operatorHeap(op.metricsUrl)) };
      const api2 = await operatorRequestLatency(op.metricsUrl);
      results.push({ scale, activation, toBinding, bindingToAllowed, isolated, burst, ...usage, apiLatency: api2 });
      say(
        `scale ${String(scale)}: operator API requests: ${Object.entries(api2)
          .sort((a, b) => b[1].count - a[1].count)
          .slice(0, 8)
          .map(([k, v]) => `${k} ${String(v.count)}×${v.meanMs.toFixed(1)}ms`)
          .join(', ')}`,
      );
      say(
        `scale ${String(scale)}: activation p99 ${ms(activation.p99)}, isolated expiry p99 ${ms(isolated.p99)}, burst p99 ${ms(burst.p99)}, RSS ${usage.rssMb.toFixed(0)} MB, heap ${usage.heapUsedMb.toFixed(0)} MB`,
      );
    }

    say('requests per grant lifecycle, at two TTLs');
    const perLifecycle = runs('lifecycle')
      ? {
          ttl5s: await requestsPerLifecycle(api, events, op, next, '5s'),
          ttl20s: await requestsPerLifecycle(api, events, op, next, '20s'),
        }
      : { ttl5s: NaN, ttl20s: NaN };
    const floorBurstSize = Math.min(BURST, SCALES.at(-1) ?? BURST);
    say(`floor: an admin deleting RoleBindings directly (10 isolated, ${String(floorBurstSize)} at once)`);
    const floor = runs('floor') ? await measureFloor(api, events, namespaces, floorBurstSize) : { isolated: skipped, burst: skipped };
    say('baseline: a polling reaper every 30 s (takes about a minute)');
    const polling = runs('polling') ? await measurePollingReaper(api, namespaces) : skipped;
    await watch.stop();

    const report = {
      when: new Date().toISOString(),
      durationSeconds: Math.round((Date.now() - started) / 1000),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? '',
        memoryGb: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        loadAtEnd: loadavg(),
      },
      settings: { namespaces: NAMESPACES, workers: WORKERS, activations: ACTIVATIONS, burst: BURST, only: ONLY ?? [...SCENARIOS] },
      scales: results,
      floor,
      polling,
      requestsPerLifecycle: perLifecycle,
    };
    mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'bench/results/latest.json'), JSON.stringify(report, null, 2));
    process.stdout.write(`\n${render(report)}\n\nJSON: bench/results/latest.json (${String(report.durationSeconds)} s)\n`);
  } finally {
    await op?.stop();
    await stopControlPlane(state);
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

async function measureActivations(
  api: KubeApi,
  events: BindingEvents,
  next: Next,
  count: number,
): Promise<{ activation: Summary; toBinding: Summary; bindingToAllowed: Summary }> {
  const start = Date.now();
  const latencies = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      await sleep(start + i * 10 - Date.now());
      const g = next('act');
      const added = events.next('ADDED', g.namespace, rbacName(g.name));
      const created = Date.now();
      await createGrant(api, { ...g, ttl: '4h' });
      await added;
      const bound = Date.now();
      // 10 ms between looks: finer polling of 200 subjects at once would load the API server it measures.
      const allowed = await waitForAccess(api, g.user, g.namespace, true, 120_000, 10);
      return { total: allowed - created, toBinding: bound - created, bindingToAllowed: allowed - bound };
    }),
  );
  return {
    activation: summarize(latencies.map((l) => l.total)),
    toBinding: summarize(latencies.map((l) => l.toBinding)),
    bindingToAllowed: summarize(latencies.map((l) => l.bindingToAllowed)),
  };
}

/**
 * `msPerGrant`: how fast the fill activated grants. The burst's second is set that far out
 * (twice over) so that every grant of the burst is active and the operator idle before it: a
 * fixed 40 ms per grant assumed 25 activations/s, while under load the operator makes 8-12, so a
 * third of the burst was still being activated at its deadline (not measured, and that work
 * delayed the rest).
 */
async function measureBurst(api: KubeApi, events: BindingEvents, next: Next, size: number, msPerGrant: number): Promise<Summary> {
  const second = Math.ceil((Date.now() + 15_000 + size * Math.max(40, 2 * msPerGrant)) / 1000) * 1000;
  say(`burst: ${String(size)} grants ending in the second at ${new Date(second).toISOString().slice(11, 19)}`);
  const grants = Array.from({ length: size }, (_, i) => ({ ...next('burst'), at: second + Math.floor((i * 1000) / size) }));
  const limit = new Semaphore(32);
  const lateness = grants.map((g) =>
    events.next('DELETED', g.namespace, rbacName(g.name)).then(async () => (await waitForAccess(api, g.user, g.namespace, false)) - g.at),
  );
  const active = await Promise.all(
    grants.map((g) =>
      limit.run(async () => {
        const added = events.next('ADDED', g.namespace, rbacName(g.name));
        await createGrant(api, { ...g, ttl: '4h', notAfter: new Date(g.at).toISOString() });
        await Promise.race([added, sleep(g.at - Date.now())]);
        return Date.now() < g.at;
      }),
    ),
  );
  const measured = lateness.filter((_, i) => active[i]);
  if (measured.length < grants.length)
    say(`warning: ${String(grants.length - measured.length)} of the burst's grants were not active before their deadline; measured the rest`);
  return summarize(await Promise.all(measured));
}

async function requestsPerLifecycle(api: KubeApi, events: BindingEvents, op: OperatorProcess, next: Next, ttl: string): Promise<number> {
  await operatorSettled(op.metricsUrl);
  const before = await operatorRequests(op.metricsUrl);
  const grants = Array.from({ length: 20 }, () => next(`life${ttl}`));
  await Promise.all(
    grants.map(async (g) => {
      const gone = events.next('DELETED', g.namespace, rbacName(g.name));
      await createGrant(api, { ...g, ttl });
      await gone;
    }),
  );
  await operatorSettled(op.metricsUrl, 3000);
  return ((await operatorRequests(op.metricsUrl)) - before) / grants.length;
}

async function measureFloor(api: KubeApi, events: BindingEvents, namespaces: string[], burstSize: number): Promise<{ isolated: Summary; burst: Summary }> {
  const isolated = (await measureFloorExpiries(api, events, namespaces, 'floor')).lateness;
  const limit = new Semaphore(32);
  const burst = Array.from({ length: burstSize }, (_, i) => ({ namespace: namespaces[i % namespaces.length] ?? '', user: `floor-burst-${String(i)}` }));
  await Promise.all(burst.map((b) => limit.run(() => bindUser(api, b.namespace, b.user, b.user))));
  await Promise.all(burst.slice(0, 20).map((b) => waitForAccess(api, b.user, b.namespace, true)));
  const t0 = Date.now();
  // The same parallelism as the operator's deadline path.
  const lateness = await Promise.all(
    burst.map((b) =>
      limit
        .run(() => api.rbac.deleteNamespacedRoleBinding({ namespace: b.namespace, name: b.user }))
        .then(async () => (await waitForAccess(api, b.user, b.namespace, false)) - t0),
    ),
  );
  return { isolated, burst: summarize(lateness) };
}

/** The cron-style alternative: list every 30 s, delete what has expired. */
async function measurePollingReaper(api: KubeApi, namespaces: string[]): Promise<Summary> {
  const base = Date.now() + 5000;
  const bindings = Array.from({ length: 200 }, (_, i) => ({
    namespace: namespaces[i % namespaces.length] ?? '',
    user: `poll-${String(i)}`,
    at: base + i * 150,
  }));
  await Promise.all(bindings.map((b) => bindUser(api, b.namespace, b.user, b.user, { bench: 'polling' }, { expiresAt: String(b.at) })));
  const lastExpiry = base + 200 * 150;
  const deleted = new Map<string, number>();
  while (deleted.size < bindings.length) {
    await sleep(POLL_INTERVAL_MS);
    const list = await api.rbac.listRoleBindingForAllNamespaces({ labelSelector: 'bench=polling' });
    const now = Date.now();
    await Promise.all(
      list.items
        .filter((b) => Number(b.metadata?.annotations?.expiresAt ?? Infinity) <= now)
        .map(async (b) => {
          await api.rbac.deleteNamespacedRoleBinding({ namespace: b.metadata?.namespace ?? '', name: b.metadata?.name ?? '' });
          deleted.set(`${b.metadata?.namespace ?? ''}/${b.metadata?.name ?? ''}`, now);
        }),
    );
    if (now > lastExpiry + 2 * POLL_INTERVAL_MS) break;
  }
  const lateness = await Promise.all(bindings.map(async (b) => (await waitForAccess(api, b.user, b.namespace, false, 120_000, 5)) - b.at));
  return summarize(lateness);
}

function render(r: {
  scales: ScaleResult[];
  floor: { isolated: Summary; burst: Summary };
  polling: Summary;
  requestsPerLifecycle: { ttl5s: number; ttl20s: number };
  machine: { cpus: number; cpuModel: string; memoryGb: number; loadAtEnd: number[] };
}): string {
  const rows = r.scales.flatMap((s) => [
    [String(s.scale), 'activation (create → SAR allows), 100/s', ms(s.activation.p50), ms(s.activation.p99), ms(s.activation.max), String(s.activation.n)],
    [String(s.scale), '  of which create → RoleBinding exists', ms(s.toBinding.p50), ms(s.toBinding.p99), ms(s.toBinding.max), String(s.toBinding.n)],
    [
      String(s.scale),
      '  of which RoleBinding → SAR allows',
      ms(s.bindingToAllowed.p50),
      ms(s.bindingToAllowed.p99),
      ms(s.bindingToAllowed.max),
      String(s.bindingToAllowed.n),
    ],
    [String(s.scale), 'isolated expiry lateness (deadline → SAR denies)', ms(s.isolated.p50), ms(s.isolated.p99), ms(s.isolated.max), String(s.isolated.n)],
    [String(s.scale), `${String(s.burst.n)} expiring in one second: lateness`, ms(s.burst.p50), ms(s.burst.p99), ms(s.burst.max), String(s.burst.n)],
  ]);
  rows.push(
    [
      '-',
      'floor: admin deletes one RoleBinding → SAR denies',
      ms(r.floor.isolated.p50),
      ms(r.floor.isolated.p99),
      ms(r.floor.isolated.max),
      String(r.floor.isolated.n),
    ],
    [
      '-',
      `floor: admin deletes ${String(r.floor.burst.n)} at once → SAR denies`,
      ms(r.floor.burst.p50),
      ms(r.floor.burst.p99),
      ms(r.floor.burst.max),
      String(r.floor.burst.n),
    ],
    ['-', 'polling reaper (30 s) lateness', ms(r.polling.p50), ms(r.polling.p99), ms(r.polling.max), String(r.polling.n)],
  );
  const usage = r.scales.map((s) => [
    String(s.scale),
    `${s.rssMb.toFixed(0)} MB`,
    `${s.heapUsedMb.toFixed(0)} / ${s.heapTotalMb.toFixed(0)} MB`,
    `${s.cpuSeconds.toFixed(1)} s`,
  ]);
  return [
    `machine: ${String(r.machine.cpus)} × ${r.machine.cpuModel}, ${String(r.machine.memoryGb)} GiB; load average at the end ${r.machine.loadAtEnd.map((l) => l.toFixed(1)).join(' ')}`,
    '',
    table(['active grants', 'measure', 'p50', 'p99', 'max', 'n'], rows),
    '',
    table(['active grants', 'operator RSS', 'V8 heap used / total', 'operator CPU (cumulative)'], usage),
    '',
    `API requests per grant lifecycle: ${r.requestsPerLifecycle.ttl5s.toFixed(1)} (ttl 5s), ${r.requestsPerLifecycle.ttl20s.toFixed(1)} (ttl 20s)`,
  ].join('\n');
}

// `npm run bench -- cli`: CLI start-up only (bench/cli.ts), no control plane.
// `npm run bench -- cluster`: start time and memory at 1k-50k realistic pods (bench/cluster-scale.ts).
// `npm run bench -- cache`: heap per cached pod and work-queue drain time, no cluster (bench/cache-cost.ts).
// `npm run bench -- grants`: operator memory at 1k and 10k active grants, sources and bundle (bench/grant-scale.ts).
// `npm run bench -- sessions`: debug/exec/attach/logs sessions at the deadline on the real node (bench/sessions.ts).
// `npm run bench -- overload`: revocation lateness under a saturated API server, with and without config/flowcontrol (bench/overload.ts).
// `npm run bench -- activation`: activation latency at 100 creates/s with 10,000 grants active, the operator as it ships (bench/activation.ts).
// `npm run bench -- rbac-writes`: what one write of a grant's Role or RoleBinding costs the API server, by method, identity and admission (bench/rbac-writes.ts).
// `npm run bench -- second-deadline`: lateness with no operator running (timer Jobs) beside the operator's, on a real node (bench/second-deadline.ts).
const scenarios: Record<string, () => Promise<void>> = {
  cli: async () => {
    (await import('./cli.ts')).benchCli();
  },
  cluster: async () => {
    await (await import('./cluster-scale.ts')).benchCluster();
  },
  cache: async () => {
    await (await import('./cache-cost.ts')).benchCacheCost();
  },
  grants: async () => {
    await (await import('./grant-scale.ts')).benchGrants();
  },
  sessions: async () => {
    await (await import('./sessions.ts')).benchSessions();
  },
  overload: async () => {
    await (await import('./overload.ts')).benchOverload();
  },
  activation: async () => {
    await (await import('./activation.ts')).benchActivation();
  },
  'rbac-writes': async () => {
    await (await import('./rbac-writes.ts')).benchRbacWrites();
  },
  'second-deadline': async () => {
    await (await import('./second-deadline.ts')).benchSecondDeadline();
  },
};
const scenario = scenarios[process.argv[2] ?? ''] ?? main;
scenario().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
