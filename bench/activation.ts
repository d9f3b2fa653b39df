// npm run bench -- activation: how long a new grant takes to give access while many are
// active, with the operator as it ships: the bundle, the Deployment's Node flags, config/manager's
// configuration (its workers, leader election), its own ServiceAccount token and config/rbac, the
// admission policies (config/admission: the RoleBinding is admitted against the index) and
// config/flowcontrol; grants created by the GitOps identity, as the policies require. First
// BENCH_ACTIVATION_FILL grants (10,000, 4 h) are activated, 32 creates in flight, by this
// checkout's bundle with BENCH_ACTIVATION_FILL_WORKERS (32) workers (set-up); then, per
// variant and round (alternating, so the machine's load hits each alike), grants are created at
// BENCH_ACTIVATION_RATE per second (100) for BENCH_ACTIVATION_SECONDS (30): create → the
// RoleBinding seen by a watch (or, should the watch miss it, by a list: bench/binding-arrivals.ts,
// which reports every such miss), and → SubjectAccessReview (as the exempt admin) allows.
// Those grants stay active, so each phase starts with more active grants than the last.
// BENCH_ACTIVATION_VARIANTS: label=checkout pairs, comma-separated (default "this=."): each
// checkout's own hack/bundle.ts builds its operator (e.g. a `git worktree` of an older commit,
// with node_modules); label=checkout@N runs it with N workers instead of the configuration's. BENCH_ACTIVATION_ROUNDS (1). Writes bench/results/activation.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { REPO_ROOT, installCrds, kubectlAs } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane, type PlaneState } from '../hack/controlplane/plane.ts';
import { spawnOperator, type OperatorProcess } from '../hack/operator-process.ts';
import { rbacName } from '../src/api/names.ts';
import type { KubeApi } from '../src/kube/client.ts';
import {
  DEPLOYMENT_NODE_ARGS,
  OPERATOR_NS,
  adminApi,
  createGrant,
  operatorIdentity,
  operatorRequestLatency,
  prepareNamespaces,
  shippedOperatorConfig,
  userApi,
  waitForAccess,
  watchBindings,
} from './cluster.ts';
import { BindingArrivals, type MissedBinding } from './binding-arrivals.ts';
import { BindingEvents } from './expiry.ts';
import { Semaphore } from './semaphore.ts';
import { loadAverage as load, ms, summarize, table, type Summary } from './stats.ts';

const FILL = Number(process.env.BENCH_ACTIVATION_FILL ?? 10_000);
const RATE = Number(process.env.BENCH_ACTIVATION_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_ACTIVATION_SECONDS ?? 30);
const ROUNDS = Number(process.env.BENCH_ACTIVATION_ROUNDS ?? 1);
/** Workers of the operator that fills (set-up only; every measured operator runs config/manager's configuration). */
const FILL_WORKERS = Number(process.env.BENCH_ACTIVATION_FILL_WORKERS ?? 32);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 100);
const VARIANTS = (process.env.BENCH_ACTIVATION_VARIANTS ?? 'this=.').split(',').map((v) => {
  const [label = '', at = ''] = v.split('=');
  const [checkout = '', workers] = at.split('@');
  if (!label || !checkout || (workers !== undefined && !(Number(workers) > 0)))
    throw new Error(`BENCH_ACTIVATION_VARIANTS: "${v}" is not label=checkout[@workers]`);
  return { label, checkout: resolve(REPO_ROOT, checkout), ...(workers ? { workers: Number(workers) } : {}) };
});
const say = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};
const sleep = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t)));

interface PhaseResult {
  variant: string;
  round: number;
  activeBefore: number;
  toBinding: Summary;
  activation: Summary;
  /** The operator's API requests during the phase, per grant created, by operation (top ones). */
  requestsPerGrant: Record<string, { perGrant: number; meanMs: number }>;
  /** Grant reconciles during the phase, per grant created, and their mean duration. */
  reconcilesPerGrant: number;
  reconcileMeanMs: number;
  loadBefore: string;
  loadAfter: string;
  /** RoleBindings the bench's watch never reported (found by listing them), and grants with none by the limit. */
  missedByWatch: MissedBinding[];
  notActivated: string[];
}

/** Builds a checkout's operator bundle with its own hack/bundle.ts. */
function bundle(checkout: string, out: string): string {
  execFileSync(process.execPath, [join(checkout, 'hack/bundle.ts'), out], { cwd: checkout, stdio: ['ignore', 'ignore', 'inherit'] });
  return join(out, 'operator.mjs');
}

function startShipped(
  state: PlaneState,
  dir: string,
  kubeconfig: string,
  entry: string,
  name: string,
  overrides: Record<string, unknown> = {},
): Promise<OperatorProcess> {
  return spawnOperator({
    kubeconfig,
    context: 'operator',
    dir,
    name,
    entry,
    nodeArgs: DEPLOYMENT_NODE_ARGS,
    config: { ...shippedOperatorConfig(), ...overrides },
    env: { POD_NAMESPACE: OPERATOR_NS, POD_NAME: name, ...(process.env.BENCH_LOG_LEVEL ? { LOG_LEVEL: process.env.BENCH_LOG_LEVEL } : {}) },
  });
}

/** Until the operator's request count holds still for 1.5 s (at most `maxMs`: a Lease renewal every few seconds is fine). */
async function quiet(op: OperatorProcess, maxMs = 60_000): Promise<void> {
  const count = async () => Object.values(await operatorRequestLatency(op.metricsUrl)).reduce((a, r) => a + r.count, 0);
  const until = Date.now() + maxMs;
  let last = await count();
  let since = Date.now();
  while (Date.now() - since < 1500 && Date.now() < until) {
    await sleep(250);
    const now = await count();
    if (now !== last) [last, since] = [now, Date.now()];
  }
}

/** `work`, unless the operator exits first (e.g. it lost its Lease to a stalled API server): then its log's last words. */
async function untilExit<T>(op: OperatorProcess, work: Promise<T>): Promise<T> {
  const exited = new Promise<never>((_, reject) => {
    op.child.once('exit', (code, signal) => {
      const last = readFileSync(op.logFile, 'utf8').trim().split('\n').slice(-3).join('\n');
      reject(new Error(`the operator exited (${String(code ?? signal)}) during the phase; its log ends:\n${last}`));
    });
  });
  return Promise.race([work, exited]);
}

async function fill(creator: KubeApi, arrivals: BindingArrivals, namespaces: string[], count: number): Promise<void> {
  const limit = new Semaphore(32);
  let created = 0;
  let done = 0;
  // A fill that stops moving says where it stands.
  const progress = setInterval(() => {
    say(
      `  fill: ${String(created)} created, ${String(done)} with their RoleBinding, ${String(arrivals.waiting)} waiting, ${String(arrivals.missed.length)} found by listing`,
    );
  }, 15_000);
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      limit.run(async () => {
        const g = { namespace: namespaces[i % namespaces.length] ?? '', name: `bg-${String(i)}`, user: `u-bg-${String(i)}`, ttl: '4h' };
        const added = arrivals.arrival(g.namespace, rbacName(g.name));
        await createGrant(creator, g);
        created++;
        await added;
        if (++done % 1000 === 0) say(`  ${String(done)} active (load ${load()})`);
      }),
    ),
  ).finally(() => {
    clearInterval(progress);
  });
}

/** Per grant created: create → RoleBinding and → SAR allows; undefined when its RoleBinding never came (within the arrivals' limit). */
async function measure(
  admin: KubeApi,
  creator: KubeApi,
  arrivals: BindingArrivals,
  namespaces: string[],
  prefix: string,
): Promise<{ toBinding: Summary; activation: Summary }> {
  const count = RATE * SECONDS;
  const start = Date.now();
  const latencies = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      await sleep(start + (i * 1000) / RATE - Date.now());
      const g = { namespace: namespaces[i % namespaces.length] ?? '', name: `${prefix}-${String(i)}`, user: `u-${prefix}-${String(i)}`, ttl: '4h' };
      const added = arrivals.arrival(g.namespace, rbacName(g.name));
      const created = Date.now();
      await createGrant(creator, g);
      const bound = await added;
      if (bound === undefined) return undefined;
      // 10 ms between looks, as the main bench: finer polling of hundreds of subjects would load the API server it measures.
      const allowed = await waitForAccess(admin, g.user, g.namespace, true, 120_000, 10);
      return { toBinding: bound - created, activation: allowed - created };
    }),
  );
  const seen = latencies.filter((l) => l !== undefined);
  return { toBinding: summarize(seen.map((l) => l.toBinding)), activation: summarize(seen.map((l) => l.activation)) };
}

/** What the watch missed (found by listing instead) and what never came: empty when all went well. */
function missedLine(a: BindingArrivals): string {
  const cached = a.missed.filter((m) => m.inWatchCache).length;
  const missed = a.missed.length
    ? `; ${String(a.missed.length)} RoleBinding(s) never reported by the watch, found by listing (${String(cached)} of them in the informer's cache): ${a.missed
        .slice(0, 5)
        .map((m) => `${m.key} after ${ms(m.foundAfterMs)}`)
        .join(', ')}`
    : '';
  return `${missed}${a.timedOut.length ? `; ${String(a.timedOut.length)} grant(s) without a RoleBinding at the limit: ${a.timedOut.slice(0, 5).join(', ')}` : ''}`;
}

type RequestStats = Record<string, { count: number; meanMs: number }>;

/** Per operation over the phase: requests per grant created and their mean latency (ms). */
function perGrant(before: RequestStats, after: RequestStats, grants: number): Record<string, { perGrant: number; meanMs: number }> {
  const rows = Object.entries(after)
    .map(([op, r]) => {
      const b = before[op] ?? { count: 0, meanMs: 0 };
      const count = r.count - b.count;
      const meanMs = count > 0 ? (r.count * r.meanMs - b.count * b.meanMs) / count : 0;
      return [op, { perGrant: Math.round((count / grants) * 100) / 100, meanMs: Math.round(meanMs) }] as const;
    })
    .filter(([, r]) => r.perGrant >= 0.05)
    .sort((a, b) => b[1].perGrant - a[1].perGrant);
  return Object.fromEntries(rows);
}

/** The operator's grant reconciles so far: how many, and their total time (s). */
async function reconciles(op: OperatorProcess): Promise<{ count: number; seconds: number }> {
  const text = await (await fetch(op.metricsUrl)).text();
  const read = (what: string): number =>
    Number(new RegExp(`^debuggrant_reconcile_duration_seconds_${what}\\{controller="grant"\\} ([\\d.e+-]+)`, 'm').exec(text)?.[1] ?? 0); // none before the first reconcile
  return { count: read('count'), seconds: read('sum') };
}

export async function benchActivation(): Promise<void> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-activation-'));
  const state = await startControlPlane({ dir, binDir: ensureBinaries(), progress: say });
  let op: OperatorProcess | undefined;
  try {
    installCrds(state);
    const admin = adminApi(state, 60_000);
    const creator = userApi(state, 'gitops', 60_000);
    say('config/rbac, config/admission and config/flowcontrol as shipped; the operator ServiceAccount token');
    const identity = await operatorIdentity(state, admin, dir);
    kubectlAs(state, 'admin', ['apply', '--server-side', '-k', join(REPO_ROOT, 'config/admission')]);
    kubectlAs(state, 'admin', ['apply', '--server-side', '-k', join(REPO_ROOT, 'config/flowcontrol')]);
    const entries = VARIANTS.map((v) => {
      say(`bundling ${v.label} (${v.checkout})`);
      return { ...v, entry: bundle(v.checkout, join(dir, `dist-${v.label}`)) };
    });
    say(`preparing ${String(NAMESPACES)} namespaces, one target pod each`);
    const namespaces = await prepareNamespaces(admin, NAMESPACES);
    const events = new BindingEvents();
    const watch = await watchBindings(admin, (t, k) => {
      events.handle(t, k);
    });
    // The fill is set-up, not the measurement: this checkout's bundle with FILL_WORKERS workers.
    say(`activating ${String(FILL)} grants, 32 creates in flight, ${String(FILL_WORKERS)} workers (load ${load()})`);
    // No Lease for the filler: a renewal lost while it loads the API server would stop it.
    const filler = await startShipped(state, dir, identity.kubeconfig, bundle(REPO_ROOT, join(dir, 'dist-fill')), 'fill', {
      workers: FILL_WORKERS,
      leaderElection: { enabled: false },
    });
    op = filler;
    await filler.waitUntilReady(10 * 60_000);
    const t0 = Date.now();
    const filled = new BindingArrivals(events, admin, (ns, name) => watch.get(name, ns) !== undefined);
    await untilExit(filler, fill(creator, filled, namespaces, FILL));
    filled.stop();
    say(`  ${String(FILL - filled.timedOut.length)} active in ${ms(Date.now() - t0)}${missedLine(filled)}`);
    await filler.stop();
    let active = FILL;
    const results: PhaseResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const v of entries) {
        const spawned = Date.now();
        op = await startShipped(state, dir, identity.kubeconfig, v.entry, `${v.label}-${String(round)}`, v.workers ? { workers: v.workers } : {});
        await op.waitUntilReady(10 * 60_000);
        say(`${v.label}: ready in ${ms(Date.now() - spawned)} on ${String(active)} grants`);
        await quiet(op);
        const loadBefore = load();
        say(`${v.label} round ${String(round)}: ${String(RATE)}/s for ${String(SECONDS)} s with ${String(active)} active (load ${loadBefore})`);
        const before = await operatorRequestLatency(op.metricsUrl);
        const reconciledBefore = await reconciles(op);
        const arrivals = new BindingArrivals(events, admin, (ns, name) => watch.get(name, ns) !== undefined);
        const m = await untilExit(op, measure(admin, creator, arrivals, namespaces, `a${String(round)}-${v.label}`));
        arrivals.stop();
        const loadAfter = load();
        const requestsPerGrant = perGrant(before, await operatorRequestLatency(op.metricsUrl), RATE * SECONDS);
        const reconciled = await reconciles(op);
        const reconcileCount = reconciled.count - reconciledBefore.count;
        const reconcilesPerGrant = Math.round((reconcileCount / (RATE * SECONDS)) * 100) / 100;
        const reconcileMeanMs = Math.round(((reconciled.seconds - reconciledBefore.seconds) / reconcileCount) * 1000);
        results.push({
          variant: v.label,
          round,
          activeBefore: active,
          ...m,
          requestsPerGrant,
          reconcilesPerGrant,
          reconcileMeanMs,
          loadBefore,
          loadAfter,
          missedByWatch: arrivals.missed,
          notActivated: arrivals.timedOut,
        });
        active += RATE * SECONDS;
        say(
          `  create → RoleBinding p50 ${ms(m.toBinding.p50)} p99 ${ms(m.toBinding.p99)}; → SAR allows p50 ${ms(m.activation.p50)} p99 ${ms(m.activation.p99)} max ${ms(m.activation.max)} (load ${loadAfter})${missedLine(arrivals)}`,
        );
        say(
          `  per grant: ${String(reconcilesPerGrant)} reconciles (mean ${String(reconcileMeanMs)} ms); requests ${Object.entries(requestsPerGrant)
            .map(([k, r]) => `${k} ${String(r.perGrant)}×${String(r.meanMs)}ms`)
            .join(', ')}`,
        );
        await op.stop();
        op = undefined;
      }
    }
    await watch.stop();
    const report = {
      when: new Date().toISOString(),
      durationSeconds: Math.round((Date.now() - started) / 1000),
      settings: { FILL, RATE, SECONDS, ROUNDS, NAMESPACES, variants: VARIANTS },
      results,
    };
    mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'bench/results/activation.json'), JSON.stringify(report, null, 2));
    const rows = results.map((r) => [
      r.variant,
      String(r.round),
      String(r.activeBefore),
      `${String(r.activation.n)} of ${String(RATE * SECONDS)}`,
      `${ms(r.toBinding.p50)} / ${ms(r.toBinding.p99)}`,
      ms(r.activation.p50),
      ms(r.activation.p99),
      ms(r.activation.max),
      `${r.loadBefore} → ${r.loadAfter}`,
    ]);
    process.stdout.write(
      `\n${table(['operator', 'round', 'active before', 'n', 'create → RoleBinding p50 / p99', 'create → SAR allows p50', 'p99', 'max', 'load average (1/5/15 min)'], rows)}\n` +
        `${String(RATE)} creates/s for ${String(SECONDS)} s; JSON: bench/results/activation.json (${String(report.durationSeconds)} s)\n`,
    );
  } finally {
    await op?.stop();
    await stopControlPlane(state);
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}
