// npm run bench -- activation: how long a new grant takes to give access while many are
// active, with the operator as it ships: the bundle, the Deployment's Node flags, config/manager's
// configuration (its workers, leader election), its own ServiceAccount token and config/rbac, the
// admission policies (config/admission: the RoleBinding is admitted against the index) and
// config/flowcontrol; grants created by the GitOps identity, as the policies require. First
// BENCH_ACTIVATION_FILL grants (10,000, 4 h) are activated, 32 creates in flight, by this
// checkout's bundle with BENCH_ACTIVATION_FILL_WORKERS (32) workers (set-up); then, per
// variant and round (alternating, every other round in reverse order, so the machine's load and the
// growing number of active grants hit each alike), grants are created at
// BENCH_ACTIVATION_RATE per second (100) for BENCH_ACTIVATION_SECONDS (30): create → the
// RoleBinding seen by a watch (or, should the watch miss it, by a list: bench/binding-arrivals.ts,
// which reports every such miss), and → SubjectAccessReview (as the exempt admin) allows.
// Those grants stay active, so each phase starts with more active grants than the last.
// BENCH_ACTIVATION_VARIANTS: label=checkout pairs, comma-separated (default "this=."): each
// checkout's own hack/bundle.ts builds its operator (e.g. a `git worktree` of an older commit,
// with node_modules); label=checkout@N runs it with N workers instead of the configuration's. BENCH_ACTIVATION_ROUNDS (1). Writes bench/results/activation.json.
// Cost per activation, far less sensitive to the machine's load than latency: after the
// creates, the phase waits until the operator is quiet (and past the timers' no-Job-controller
// threshold, so the status write that follows it is counted), then divides the CPU seconds of
// kube-apiserver, etcd and the operator (/proc/<pid>/stat, and kube-controller-manager's when
// it runs) and the operator's requests by operation (debuggrant_api_request_duration_seconds)
// by the grants activated. The capacity model: cores for N activations/s = N x CPU s per activation.
// BENCH_ACTIVATION_CONTROLLERS=1 runs kube-controller-manager (as every cluster does: the Job
// controller starts the timers, the garbage collector follows owners). BENCH_QUIET_LOCK: the
// team's lock (bench/quiet-lock.ts), shared while filling, exclusive over the measured phases.
// BENCH_ACTIVATION_PPROF=N: a CPU profile of kube-apiserver over the first N seconds of each
// phase (its /debug/pprof, as the admin), in bench/results/ (read with `go tool pprof -top`).
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { REPO_ROOT, installCrds, kubectlAs } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane, type PlaneState } from '../hack/controlplane/plane.ts';
import { startControllerManager } from '../hack/node/controllers.ts';
import { ensureNodeBinaries } from '../hack/node/node.ts';
import { stopPid, type Started } from '../hack/controlplane/processes.ts';
import { spawnOperator, type OperatorProcess } from '../hack/operator-process.ts';
import { NO_CONTROLLER_AFTER_MS } from '../src/revocation/timer-job.ts';
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
  processUsage,
  shippedOperatorConfig,
  userApi,
  waitForAccess,
  watchBindings,
} from './cluster.ts';
import { BindingArrivals, type MissedBinding } from './binding-arrivals.ts';
import { BindingEvents } from './expiry.ts';
import { QuietLock } from './quiet-lock.ts';
import { Semaphore } from './semaphore.ts';
import { loadAverage as load, ms, summarize, table, type Summary } from './stats.ts';

const FILL = Number(process.env.BENCH_ACTIVATION_FILL ?? 10_000);
const RATE = Number(process.env.BENCH_ACTIVATION_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_ACTIVATION_SECONDS ?? 30);
const ROUNDS = Number(process.env.BENCH_ACTIVATION_ROUNDS ?? 1);
/** Workers of the operator that fills (set-up only; every measured operator runs config/manager's configuration). */
const FILL_WORKERS = Number(process.env.BENCH_ACTIVATION_FILL_WORKERS ?? 32);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 100);
const CONTROLLERS = process.env.BENCH_ACTIVATION_CONTROLLERS === '1';
const PPROF_SECONDS = Number(process.env.BENCH_ACTIVATION_PPROF ?? 0);
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
  /** The operator's API requests during the phase (until quiet), per grant activated, by operation (top ones). */
  requestsPerGrant: Record<string, { perGrant: number; meanMs: number }>;
  /** All of them, per grant activated. */
  requestsPerActivation: number;
  /** CPU seconds per grant activated, by process, over the phase until the operator was quiet. */
  cpuPerActivation: Record<string, number>;
  /** Grants activated per second: from the first create to the last grant's access. */
  activationsPerSecond: number;
  /** The bench's own SubjectAccessReview polls per grant (they load the same API server). */
  benchPollsPerGrant: number;
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
): Promise<{ toBinding: Summary; activation: Summary; activationsPerSecond: number; polls: number }> {
  const count = RATE * SECONDS;
  const start = Date.now();
  let polls = 0;
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
      const allowed = await waitForAccess(admin, g.user, g.namespace, true, 120_000, 10, () => polls++);
      return { toBinding: bound - created, activation: allowed - created, at: allowed };
    }),
  );
  const seen = latencies.filter((l) => l !== undefined);
  const last = Math.max(...seen.map((l) => l.at));
  return {
    toBinding: summarize(seen.map((l) => l.toBinding)),
    activation: summarize(seen.map((l) => l.activation)),
    activationsPerSecond: seen.length / ((last - start) / 1000),
    polls,
  };
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
    .filter(([, r]) => r.perGrant >= 0.01)
    .sort((a, b) => b[1].perGrant - a[1].perGrant);
  return Object.fromEntries(rows);
}

/** Requests of every operation per grant. */
function totalPerGrant(before: RequestStats, after: RequestStats, grants: number): number {
  const total = (r: RequestStats) => Object.values(r).reduce((a, x) => a + x.count, 0);
  return Math.round(((total(after) - total(before)) / grants) * 100) / 100;
}

/** A CPU profile of kube-apiserver over the next `seconds`, written to `out` (resolves when written; a failure is said, not thrown). */
function profileApiServer(state: PlaneState, seconds: number, out: string): Promise<void> {
  const args = ['--kubeconfig', state.kubeconfig, '--context', 'admin', 'get', '--raw', `/debug/pprof/profile?seconds=${String(seconds)}`];
  return new Promise((resolve) => {
    execFile(state.kubectl, args, { encoding: 'buffer', maxBuffer: 64 << 20, timeout: (seconds + 30) * 1000 }, (err, stdout) => {
      if (err) say(`  no profile of kube-apiserver: ${err.message}`);
      else {
        writeFileSync(out, stdout);
        say(`  kube-apiserver profile: ${out}`);
      }
      resolve();
    });
  });
}

/** CPU seconds so far of each process measured. */
function cpuNow(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processUsage(pid).cpuSeconds]));
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
  const lock = new QuietLock(say);
  await lock.take('shared');
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-activation-'));
  const state = await startControlPlane({ dir, binDir: ensureBinaries(), progress: say });
  let op: OperatorProcess | undefined;
  let kcm: Started | undefined;
  try {
    installCrds(state);
    if (CONTROLLERS) {
      say('starting kube-controller-manager (the Job controller starts the timers; the garbage collector)');
      kcm = startControllerManager(state, ensureNodeBinaries(), dir);
    }
    const pids: Record<string, number> = {
      'kube-apiserver': state.pids.apiserver,
      etcd: state.pids.etcd,
      ...(kcm?.child.pid ? { 'kube-controller-manager': kcm.child.pid } : {}),
    };
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
    // The measured part: nothing else on the machine (the team's lock), at most ~12 minutes.
    await lock.take('exclusive');
    say(`measuring under the exclusive lock: uptime ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternating: each round in the other order, so neither variant always meets more active grants.
      for (const v of round % 2 === 1 ? entries : [...entries].reverse()) {
        const spawned = Date.now();
        op = await startShipped(state, dir, identity.kubeconfig, v.entry, `${v.label}-${String(round)}`, v.workers ? { workers: v.workers } : {});
        await op.waitUntilReady(10 * 60_000);
        say(`${v.label}: ready in ${ms(Date.now() - spawned)} on ${String(active)} grants`);
        await quiet(op);
        const loadBefore = load();
        say(`${v.label} round ${String(round)}: ${String(RATE)}/s for ${String(SECONDS)} s with ${String(active)} active (load ${loadBefore})`);
        const before = await operatorRequestLatency(op.metricsUrl);
        const reconciledBefore = await reconciles(op);
        const measured = { ...pids, operator: op.pid };
        const cpuBefore = cpuNow(measured);
        const arrivals = new BindingArrivals(events, admin, (ns, name) => watch.get(name, ns) !== undefined);
        const phaseStart = Date.now();
        mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
        const profiled =
          PPROF_SECONDS > 0
            ? profileApiServer(state, PPROF_SECONDS, join(REPO_ROOT, `bench/results/activation-${v.label}-${String(round)}.apiserver.pprof`))
            : Promise.resolve();
        const { polls, ...m } = await untilExit(op, measure(admin, creator, arrivals, namespaces, `a${String(round)}-${v.label}`));
        arrivals.stop();
        const loadAfter = load();
        // Everything the activations cause: the status write after the no-Job-controller threshold too.
        await sleep(phaseStart + SECONDS * 1000 + NO_CONTROLLER_AFTER_MS + 1000 - Date.now());
        await quiet(op);
        await profiled;
        const cpuAfter = cpuNow(measured);
        const activated = m.activation.n;
        const requestsAfter = await operatorRequestLatency(op.metricsUrl);
        const requestsPerGrant = perGrant(before, requestsAfter, activated);
        const requestsPerActivation = totalPerGrant(before, requestsAfter, activated);
        const cpuPerActivation = Object.fromEntries(
          Object.keys(measured).map((name) => [name, Math.round((((cpuAfter[name] ?? 0) - (cpuBefore[name] ?? 0)) / activated) * 10_000) / 10_000]),
        );
        const reconciled = await reconciles(op);
        const reconcileCount = reconciled.count - reconciledBefore.count;
        const reconcilesPerGrant = Math.round((reconcileCount / activated) * 100) / 100;
        const reconcileMeanMs = Math.round(((reconciled.seconds - reconciledBefore.seconds) / reconcileCount) * 1000);
        results.push({
          variant: v.label,
          round,
          activeBefore: active,
          ...m,
          requestsPerGrant,
          requestsPerActivation,
          cpuPerActivation,
          benchPollsPerGrant: Math.round((polls / (RATE * SECONDS)) * 100) / 100,
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
          `  per grant activated: ${String(reconcilesPerGrant)} reconciles (mean ${String(reconcileMeanMs)} ms); ${String(requestsPerActivation)} requests: ${Object.entries(
            requestsPerGrant,
          )
            .map(([k, r]) => `${k} ${String(r.perGrant)}×${String(r.meanMs)}ms`)
            .join(', ')}`,
        );
        say(
          `  CPU s per activation: ${Object.entries(cpuPerActivation)
            .map(([k, c]) => `${k} ${c.toFixed(4)}`)
            .join(', ')}; ${m.activationsPerSecond.toFixed(1)} activations/s; the bench's own SAR polls ${String(polls)}`,
        );
        await op.stop();
        op = undefined;
      }
    }
    say(`measured: uptime ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
    await lock.take('shared');
    await watch.stop();
    const report = {
      when: new Date().toISOString(),
      durationSeconds: Math.round((Date.now() - started) / 1000),
      settings: { FILL, RATE, SECONDS, ROUNDS, NAMESPACES, CONTROLLERS, variants: VARIANTS },
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
      r.activationsPerSecond.toFixed(1),
      String(r.requestsPerActivation),
      Object.values(r.cpuPerActivation)
        .map((c) => (c * 1000).toFixed(1))
        .join(' / '),
      `${String(Math.round(Object.values(r.cpuPerActivation).reduce((a, c) => a + c, 0) * 1000))} ms`,
      `${r.loadBefore} → ${r.loadAfter}`,
    ]);
    const cpuNames = Object.keys(results[0]?.cpuPerActivation ?? {}).join(' / ');
    const top = (r: PhaseResult) =>
      Object.entries(r.requestsPerGrant)
        .map(([k, x]) => `${k} ${String(x.perGrant)}`)
        .join(', ');
    process.stdout.write(
      `\n${table(
        [
          'operator',
          'round',
          'active before',
          'n',
          'create → RoleBinding p50 / p99',
          'create → SAR allows p50',
          'p99',
          'max',
          'activations/s',
          'requests / activation',
          `CPU ms / activation (${cpuNames})`,
          'CPU / activation, all',
          'load average (1/5/15 min)',
        ],
        rows,
      )}\n` +
        results.map((r) => `${r.variant} round ${String(r.round)}, requests per activation: ${top(r)}\n`).join('') +
        `Capacity: cores for ${String(RATE)} activations/s = ${String(RATE)} × CPU s per activation (all processes above).\n` +
        `${String(RATE)} creates/s for ${String(SECONDS)} s; JSON: bench/results/activation.json (${String(report.durationSeconds)} s)\n`,
    );
  } finally {
    await op?.stop();
    if (kcm?.child.pid) await stopPid(kcm.child.pid);
    await stopControlPlane(state);
    await lock.release();
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}
