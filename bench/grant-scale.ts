// npm run bench -- grants: operator memory by the number of active grants (default 1,000
// and 10,000 over 100 namespaces, one target pod each). At each step the first variant
// (default: the bundle with the Deployment's Node flags) starts on the grants so far,
// activates the new ones and is measured; then every variant (default also: sources, no
// flags) is started fresh on all of them, timed to /readyz and measured once settled. Each
// reading: RSS, peak RSS (VmHWM) and the live V8 heap after a full GC (bench/gc-probe.mjs).
// An operator that dies (e.g. heap exhaustion under --max-old-space-size) is reported as
// such. BENCH_VARIANTS as in bench/operator-memory.ts; a variant with the word `+as-deployed`
// runs as the Deployment does (its ServiceAccount in-cluster, config/manager's configuration:
// leader election, HTTPS metrics with a self-signed certificate), the others with the admin's
// kubeconfig, plain-HTTP metrics and no leader election. Writes bench/results/grants.json.
// Never part of npm test.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { REPO_ROOT, installCrds } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane, type PlaneState } from '../hack/controlplane/plane.ts';
import { spawnOperator, type OperatorProcess } from '../hack/operator-process.ts';
import { rbacName } from '../src/api/names.ts';
import type { KubeApi } from '../src/kube/client.ts';
import { Semaphore } from './semaphore.ts';
import {
  DEPLOYMENT_NODE_ARGS,
  OPERATOR_NS,
  adminApi,
  createGrant,
  operatorIdentity,
  operatorSettled,
  prepareNamespaces,
  shippedOperatorConfig,
  watchBindings,
} from './cluster.ts';
import { BindingEvents } from './expiry.ts';
import { gcProbe, parseVariants, readMemory, type MemoryReading, type Variant } from './operator-memory.ts';
import { loadAverage, ms, table } from './stats.ts';

const STEPS = (process.env.BENCH_GRANT_STEPS ?? '1000,10000').split(',').map(Number);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 100);
/** Each fresh start is read again after this long idle (0: not), scraped as Prometheus would meanwhile: Lease renewals, token re-reads and scrapes go on. */
const IDLE_HOLD_S = Number(process.env.BENCH_IDLE_HOLD_S ?? 0);
const SCRAPE_EVERY_MS = 30_000;
/** The Node flags the operator ships with (bench/cluster.ts). */
const DEPLOYMENT_FLAGS = DEPLOYMENT_NODE_ARGS.join(' ');
/** The first one (by default the bundle as the Deployment runs it) also activates the grants. */
const VARIANTS = parseVariants(process.env.BENCH_VARIANTS ?? `bundle=dist/operator.mjs ${DEPLOYMENT_FLAGS},sources=src/main.ts`);
const say = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};

interface GrantsResult {
  grants: number;
  variant: string;
  /** `running`: the operator that activated them; `restart`: started fresh on them. */
  how: 'running' | 'restart';
  readyMs?: number;
  reading?: MemoryReading;
  /** Read again after IDLE_HOLD_S more seconds idle. */
  held?: MemoryReading;
  /** The host's load average (1, 5, 15 min) when it was read: memory is load-insensitive, times are not. */
  load?: string;
  failed?: string;
}

/** Where an as-deployed variant finds its ServiceAccount's token and CA (made once per run, when a variant asks). */
type Mounts = { serviceAccountDir: string } | undefined;

function operator(state: PlaneState, dir: string, variant: Variant, name: string, mounts: Mounts): Promise<OperatorProcess> {
  const probe = gcProbe(join(dir, `${name}.probe.json`));
  const log = { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', ...probe.env };
  const common = { kubeconfig: state.kubeconfig, dir, name, entry: variant.entry, nodeArgs: [...probe.nodeArgs, ...variant.nodeArgs] };
  if (!variant.asDeployed) {
    return spawnOperator({
      ...common,
      config: { approvedRegistries: ['registry.example.com/debug/'], maxTtl: '4h', workers: 16, revocationSettle: '2s' },
      env: log,
    });
  }
  if (!mounts) throw new Error(`variant ${variant.label} runs as deployed, but no ServiceAccount was prepared`);
  // The Deployment's configuration and Pod environment (config/manager): leader election, HTTPS
  // metrics with a self-signed certificate and token review (scraped as the admin, who may).
  return spawnOperator({
    ...common,
    config: shippedOperatorConfig(),
    env: { POD_NAMESPACE: OPERATOR_NS, POD_NAME: name, ...log },
    asDeployed: { server: state.server, serviceAccountDir: mounts.serviceAccountDir, metricsToken: state.tokens.admin ?? '' },
  });
}

/** The operator's ServiceAccount as config/rbac makes it, its token and the cluster's CA laid out as the kubelet mounts them. */
async function serviceAccountMounts(state: PlaneState, api: KubeApi, dir: string): Promise<{ serviceAccountDir: string }> {
  const { token } = await operatorIdentity(state, api, dir);
  const serviceAccountDir = join(dir, 'serviceaccount');
  mkdirSync(serviceAccountDir, { recursive: true });
  writeFileSync(join(serviceAccountDir, 'token'), token, { mode: 0o600 });
  writeFileSync(join(serviceAccountDir, 'ca.crt'), readFileSync(state.caFile));
  return { serviceAccountDir };
}

/** The end of the operator's log: why it died (V8 prints "JavaScript heap out of memory"). */
function lastWords(op: OperatorProcess): string {
  const lines = readFileSync(op.logFile, 'utf8').trim().split('\n');
  const fatal = lines.find((l) => /FATAL ERROR|heap out of memory/.test(l));
  return `exit ${String(op.child.exitCode ?? op.child.signalCode)}${fatal ? `: ${fatal.trim().slice(0, 120)}` : ''}`;
}

async function measure(op: OperatorProcess, dir: string, name: string): Promise<MemoryReading> {
  await operatorSettled(() => op.scrapeMetrics(), 5000);
  return readMemory(op, join(dir, `${name}.probe.json`));
}

async function freshStart(state: PlaneState, dir: string, variant: Variant, grants: number, mounts: Mounts): Promise<GrantsResult> {
  const name = `grants-${variant.label.replace(/\W+/g, '-')}-${String(grants)}`;
  const t0 = Date.now();
  const op = await operator(state, dir, variant, name, mounts);
  try {
    await op.waitUntilReady(10 * 60_000);
    const readyMs = Date.now() - t0;
    const reading = await measure(op, dir, name);
    const load = loadAverage();
    if (IDLE_HOLD_S <= 0) return { grants, variant: variant.label, how: 'restart', readyMs, reading, load };
    for (const until = Date.now() + IDLE_HOLD_S * 1000; Date.now() < until;) {
      await new Promise((r) => setTimeout(r, Math.min(SCRAPE_EVERY_MS, until - Date.now())));
      await op.scrapeMetrics();
    }
    return { grants, variant: variant.label, how: 'restart', readyMs, reading, load, held: await readMemory(op, join(dir, `${name}.probe.json`)) };
  } catch (err) {
    const dead = op.child.exitCode !== null || op.child.signalCode !== null;
    return { grants, variant: variant.label, how: 'restart', failed: dead ? lastWords(op) : String(err) };
  } finally {
    await op.stop();
  }
}

async function fill(api: KubeApi, events: BindingEvents, namespaces: string[], from: number, to: number): Promise<void> {
  const limit = new Semaphore(32);
  await Promise.all(
    Array.from({ length: to - from }, (_, j) =>
      limit.run(async () => {
        const i = from + j;
        const g = { namespace: namespaces[i % namespaces.length] ?? '', name: `bg-${String(i)}`, user: `u-bg-${String(i)}`, ttl: '4h' };
        const added = events.next('ADDED', g.namespace, rbacName(g.name));
        await createGrant(api, g);
        await added;
      }),
    ),
  );
}

export async function benchGrants(): Promise<void> {
  const started = Date.now();
  process.once('SIGINT', () => {
    process.exit(130);
  });
  process.once('SIGTERM', () => {
    process.exit(143);
  });
  if (VARIANTS.some((v) => v.entry.startsWith(join(REPO_ROOT, 'dist')))) {
    say('bundling (npm run bundle) for the bundle variant');
    if (spawnSync(process.execPath, [join(REPO_ROOT, 'hack/bundle.ts')], { stdio: 'inherit' }).status !== 0) throw new Error('npm run bundle failed');
  }
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-bench-grants-'));
  const state = await startControlPlane({ dir, binDir: ensureBinaries(), progress: say });
  const results: GrantsResult[] = [];
  try {
    installCrds(state);
    const api = adminApi(state, 60_000);
    say(`preparing ${String(NAMESPACES)} namespaces, one target pod each`);
    const namespaces = await prepareNamespaces(api, NAMESPACES);
    const events = new BindingEvents();
    const watch = await watchBindings(api, (t, k) => {
      events.handle(t, k);
    });
    const mounts = VARIANTS.some((v) => v.asDeployed) ? await serviceAccountMounts(state, api, dir) : undefined;
    const filler = VARIANTS[0];
    if (!filler) throw new Error('BENCH_VARIANTS names no operator');
    let active = 0;
    for (const step of STEPS) {
      const name = `grants-fill-${String(step)}`;
      const op = await operator(state, dir, filler, name, mounts);
      try {
        await op.waitUntilReady(10 * 60_000);
        say(`${filler.label} activates grants ${String(active)} → ${String(step)}`);
        await fill(api, events, namespaces, active, step);
        active = step;
        const reading = await measure(op, dir, name);
        results.push({ grants: step, variant: filler.label, how: 'running', reading, load: loadAverage() });
        say(
          `  running: RSS ${reading.rssMb.toFixed(1)} MB (anon ${reading.rssAnonMb.toFixed(1)}, file ${reading.rssFileMb.toFixed(1)}), peak ${reading.peakRssMb.toFixed(0)} MB, live heap ${reading.liveHeapMb.toFixed(0)} MB`,
        );
      } finally {
        await op.stop();
      }
      for (const v of VARIANTS) {
        say(`${String(step)} grants: fresh start of ${v.label}`);
        const r = await freshStart(state, dir, v, step, mounts);
        results.push(r);
        say(
          `  ${r.failed ?? `ready ${ms(r.readyMs ?? NaN)}, RSS ${r.reading?.rssMb.toFixed(1) ?? '-'} MB (anon ${r.reading?.rssAnonMb.toFixed(1) ?? '-'}, file ${r.reading?.rssFileMb.toFixed(1) ?? '-'}), peak ${r.reading?.peakRssMb.toFixed(0) ?? '-'} MB, live heap ${r.reading?.liveHeapMb.toFixed(0) ?? '-'} MB${r.held ? `; after ${String(IDLE_HOLD_S)} s more RSS ${r.held.rssMb.toFixed(1)} MB` : ''}`}`,
        );
        save(started, results);
      }
    }
    await watch.stop();
    const report = save(started, results);
    process.stdout.write(`\n${render(report.results)}\n\nJSON: bench/results/grants.json (${String(report.durationSeconds)} s)\n`);
  } finally {
    await stopControlPlane(state);
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

function save(started: number, results: GrantsResult[]) {
  const report = {
    when: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', node: process.version },
    settings: { steps: STEPS, namespaces: NAMESPACES, variants: VARIANTS.map((v) => ({ ...v, entry: relative(REPO_ROOT, v.entry) })) },
    results,
  };
  mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'bench/results/grants.json'), JSON.stringify(report, null, 2));
  return report;
}

function render(results: GrantsResult[]): string {
  const mb = (v: number | undefined): string => (v === undefined ? '-' : `${v.toFixed(0)} MB`);
  const mb1 = (v: number | undefined): string => (v === undefined ? '-' : `${v.toFixed(1)} MB`);
  const held = IDLE_HOLD_S > 0 ? [`RSS (anon / file) after ${String(IDLE_HOLD_S)} s more`] : [];
  return table(
    ['active grants', 'operator', 'measured', 'start → ready', 'RSS', 'RssAnon', 'RssFile', 'peak RSS (VmHWM)', 'live heap after GC', ...held, 'load average'],
    results.map((r) => [
      String(r.grants),
      r.variant,
      r.how === 'running' ? 'activated them (running)' : 'fresh start on them',
      r.failed ? `died: ${r.failed}` : r.readyMs === undefined ? '-' : ms(r.readyMs),
      mb1(r.reading?.rssMb),
      mb1(r.reading?.rssAnonMb),
      mb1(r.reading?.rssFileMb),
      mb(r.reading?.peakRssMb),
      mb(r.reading?.liveHeapMb),
      ...(IDLE_HOLD_S > 0 ? [r.held ? `${mb1(r.held.rssMb)} (${mb1(r.held.rssAnonMb)} / ${mb1(r.held.rssFileMb)})` : '-'] : []),
      r.load ?? '-',
    ]),
  );
}
