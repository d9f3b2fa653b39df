// npm run bench -- overload: how late access ends while ordinary identities saturate the API
// server, with and without the operator's API Priority and Fairness objects
// (config/flowcontrol). The operator runs as it ships: the bundle, the Deployment's Node
// flags, its own ServiceAccount's token and config/rbac (the other benches run it as the
// local admin, whom APF exempts). Load: ServiceAccounts of an ordinary workload and the local
// people (alice, bob, carol, gitops) each LIST a namespace of ConfigMaps in a few loops, on
// loopback only, each phase stopping by itself. Lateness: grants whose notAfter is known, SAR
// (as the exempt admin, so the judge is never queued) polled until it denies.
// Phases: quiet, saturated without the FlowSchemas, saturated with them, the floor under the
// same load (an admin, whom APF exempts, deleting RoleBindings directly), quiet with them.
// Knobs: BENCH_OVERLOAD_INFLIGHT (kube-apiserver --max-requests-inflight and
// --max-mutating-requests-inflight, default "20,10": few enough seats for two cores to
// saturate), BENCH_OVERLOAD_EXPIRIES (20 per phase), BENCH_OVERLOAD_SERVICE_ACCOUNTS (8),
// BENCH_OVERLOAD_LOOPS (loops per identity, 6), BENCH_OVERLOAD_CONFIGMAPS (400, ~1 KB each).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { stringify } from 'yaml';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { REPO_ROOT, installCrds, kubectlAs } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane, type PlaneState } from '../hack/controlplane/plane.ts';
import { buildOperatorBundle, spawnOperator, type OperatorProcess } from '../hack/operator-process.ts';
import { rbacName } from '../src/api/names.ts';
import type { KubeApi } from '../src/kube/client.ts';
import { httpStatus } from '../src/runtime/errors.ts';
import { Semaphore } from './semaphore.ts';
import { DEPLOYMENT_NODE_ARGS, adminApi, bindUser, createGrant, ensureExecRoles, prepareNamespaces, waitForAccess, watchBindings } from './cluster.ts';
import { BindingEvents } from './expiry.ts';
import { ms, summarize, table, type Summary } from './stats.ts';

const [MAX_INFLIGHT = 20, MAX_MUTATING = 10] = (process.env.BENCH_OVERLOAD_INFLIGHT ?? '20,10').split(',').map(Number);
const EXPIRIES = Number(process.env.BENCH_OVERLOAD_EXPIRIES ?? 20);
const SERVICE_ACCOUNTS = Number(process.env.BENCH_OVERLOAD_SERVICE_ACCOUNTS ?? 8);
const LOOPS = Number(process.env.BENCH_OVERLOAD_LOOPS ?? 6);
const CONFIGMAPS = Number(process.env.BENCH_OVERLOAD_CONFIGMAPS ?? 400);
const NAMESPACES = 20;
const SPACING_MS = 500;
/** Time to activate a phase's grants before the first deadline (activation itself is slow under load). */
const LEAD_MS = 20_000;
/** No load phase outlasts this, whatever happens to the measurement. */
const MAX_LOAD_MS = 180_000;
const OPERATOR_NS = 'debuggrant-system';
const OPERATOR_SA = 'debuggrant-operator';
const LOAD_NS = 'bench-load';
const say = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};
const sleep = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t)));
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

interface Identity {
  name: string;
  token: string;
}
interface LoadStats {
  requests: number;
  throttled: number;
  failed: number;
  seconds: number;
}
interface Phase {
  name: string;
  lateness: Summary;
  /** Create → RoleBinding seen, for the phase's grants. */
  activation: Summary;
  /** Grants whose RoleBinding was not there by their deadline (their lateness still counts). */
  lateActivations: number;
  load: LoadStats | undefined;
  operator429: number;
  loadAverage: string;
}

async function token(api: KubeApi, namespace: string, name: string): Promise<string> {
  const t = await api.core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { expirationSeconds: 7200 } } });
  return t.status?.token ?? '';
}

/** The operator's identity as a kubeconfig file (context "operator"), as its Deployment's mounted token gives it. */
function operatorKubeconfig(state: PlaneState, dir: string, saToken: string): string {
  const file = join(dir, 'operator-kubeconfig');
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'operator',
      clusters: [{ name: 'local', cluster: { server: state.server, 'certificate-authority-data': readFileSync(state.caFile).toString('base64') } }],
      users: [{ name: 'operator', user: { token: saToken } }],
      contexts: [{ name: 'operator', context: { cluster: 'local', user: 'operator' } }],
    }),
    { mode: 0o600 },
  );
  return file;
}

async function prepareLoad(state: PlaneState, api: KubeApi): Promise<Identity[]> {
  await api.core.createNamespace({ body: { metadata: { name: LOAD_NS } } });
  const data = { payload: 'x'.repeat(1024) };
  const limit = new Semaphore(16);
  await Promise.all(
    Array.from({ length: CONFIGMAPS }, (_, i) =>
      limit.run(() => api.core.createNamespacedConfigMap({ namespace: LOAD_NS, body: { metadata: { name: `cm-${String(i)}` }, data } })),
    ),
  );
  const people = ['alice', 'bob', 'carol', 'gitops'];
  kubectlAs(
    state,
    'admin',
    ['apply', '--server-side', '-f', '-'],
    [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'read-config', namespace: LOAD_NS },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'read-config', namespace: LOAD_NS },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-config' },
        subjects: [
          { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: `system:serviceaccounts:${LOAD_NS}` },
          ...people.map((p) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: p })),
        ],
      },
    ]
      .map((o) => stringify(o))
      .join('---\n'),
  );
  const accounts: Identity[] = [];
  for (let i = 0; i < SERVICE_ACCOUNTS; i++) {
    const name = `worker-${String(i)}`;
    await api.core.createNamespacedServiceAccount({ namespace: LOAD_NS, body: { metadata: { name } } });
    accounts.push({ name: `serviceaccount ${name}`, token: await token(api, LOAD_NS, name) });
  }
  return [...accounts, ...people.map((p) => ({ name: p, token: state.tokens[p] ?? '' }))];
}

/** LOOPS loops per identity listing the ConfigMaps, until stop() (or MAX_LOAD_MS). Loopback only. */
function startLoad(state: PlaneState, identities: Identity[]): { stop(): Promise<LoadStats> } {
  const server = new URL(state.server);
  if (server.hostname !== '127.0.0.1') throw new Error(`the load goes to loopback only, not ${server.hostname}`);
  const agent = new Agent({ connect: { ca: readFileSync(state.caFile) }, connections: identities.length * LOOPS });
  const stats: LoadStats = { requests: 0, throttled: 0, failed: 0, seconds: 0 };
  const started = Date.now();
  const until = { at: started + MAX_LOAD_MS };
  const url = `${state.server}/api/v1/namespaces/${LOAD_NS}/configmaps`;
  const loops = identities.flatMap((id) =>
    Array.from({ length: LOOPS }, async () => {
      while (Date.now() < until.at) {
        try {
          const res = await fetch(url, { dispatcher: agent, headers: { authorization: `Bearer ${id.token}` }, signal: AbortSignal.timeout(60_000) });
          await res.arrayBuffer();
          stats.requests++;
          if (res.status === 429) stats.throttled++;
          else if (res.status !== 200) stats.failed++;
        } catch {
          stats.failed++;
          await sleep(100);
        }
      }
    }),
  );
  return {
    async stop() {
      until.at = 0;
      await Promise.all(loops);
      await agent.close();
      stats.seconds = (Date.now() - started) / 1000;
      return stats;
    },
  };
}

async function operator429s(op: OperatorProcess): Promise<number> {
  const text = await (await fetch(op.metricsUrl)).text();
  let total = 0;
  for (const m of text.matchAll(/^debuggrant_api_request_duration_seconds_count\{[^}]*code="429"[^}]*\} (\d+)/gm)) total += Number(m[1]);
  return total;
}

/** EXPIRIES grants whose deadlines fall SPACING_MS apart after LEAD_MS; lateness by SAR. */
async function measureExpiries(
  api: KubeApi,
  events: BindingEvents,
  namespaces: string[],
  phase: string,
): Promise<{ lateness: Summary; activation: Summary; lateActivations: number }> {
  const base = Date.now() + LEAD_MS;
  const grants = Array.from({ length: EXPIRIES }, (_, i) => ({
    namespace: namespaces[i % namespaces.length] ?? '',
    name: `${phase}-${String(i)}`,
    user: `u-${phase}-${String(i)}`,
    at: base + i * SPACING_MS,
  }));
  const activation: number[] = [];
  let lateActivations = 0;
  const active = grants.map(async (g) => {
    const added = events.next('ADDED', g.namespace, rbacName(g.name));
    const created = Date.now();
    await createGrant(api, { ...g, ttl: '4h', notAfter: new Date(g.at).toISOString() });
    await Promise.race([added, sleep(g.at - Date.now())]);
    if (Date.now() >= g.at) lateActivations++;
    else activation.push(Date.now() - created);
  });
  const lateness: number[] = [];
  for (const g of grants) {
    await sleep(g.at - 20 - Date.now());
    lateness.push((await waitForAccess(api, g.user, g.namespace, false, 120_000, 1)) - g.at);
  }
  await Promise.all(active);
  return { lateness: summarize(lateness), activation: summarize(activation), lateActivations };
}

/** The floor under the same load: an admin (exempt from APF) deletes a RoleBinding, SAR polled until it denies. */
async function measureFloor(api: KubeApi, namespaces: string[]): Promise<Summary> {
  await ensureExecRoles(api, namespaces);
  const lateness: number[] = [];
  for (let i = 0; i < EXPIRIES; i++) {
    const namespace = namespaces[i % namespaces.length] ?? '';
    const user = `floor-${String(i)}`;
    await bindUser(api, namespace, user, user);
    await waitForAccess(api, user, namespace, true, 120_000, 10);
    const t0 = Date.now();
    await api.rbac.deleteNamespacedRoleBinding({ namespace, name: user });
    lateness.push((await waitForAccess(api, user, namespace, false, 120_000, 1)) - t0);
  }
  return summarize(lateness);
}

/** Until the API server classifies the operator's requests into `flowSchema` (its answer's X-Kubernetes-PF-FlowSchema-UID). */
async function waitForClassification(state: PlaneState, api: KubeApi, saToken: string, flowSchema: string): Promise<void> {
  const fs = (await api.custom.getClusterCustomObject({ group: 'flowcontrol.apiserver.k8s.io', version: 'v1', plural: 'flowschemas', name: flowSchema })) as {
    metadata?: { uid?: string };
  };
  const agent = new Agent({ connect: { ca: readFileSync(state.caFile) } });
  try {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
      const res = await fetch(`${state.server}/apis/rbac.authorization.k8s.io/v1/namespaces/${OPERATOR_NS}/roles`, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${saToken}` },
      });
      await res.arrayBuffer();
      if (res.headers.get('x-kubernetes-pf-flowschema-uid') === fs.metadata?.uid) return;
    }
    throw new Error(`the API server never classified the operator's requests into ${flowSchema}`);
  } finally {
    await agent.close();
  }
}

export async function benchOverload(): Promise<void> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-overload-'));
  const state = await startControlPlane({
    dir,
    binDir: ensureBinaries(),
    progress: say,
    extraApiserverArgs: [`--max-requests-inflight=${String(MAX_INFLIGHT)}`, `--max-mutating-requests-inflight=${String(MAX_MUTATING)}`],
  });
  let op: OperatorProcess | undefined;
  let running: { stop(): Promise<LoadStats> } | undefined;
  try {
    installCrds(state);
    const api = adminApi(state, 60_000);
    say("the operator's ServiceAccount and RBAC (config/rbac), namespaces, ConfigMaps and identities for the load");
    // installCrds may have made it already (the operator's records of spent names live there).
    await api.core.createNamespace({ body: { metadata: { name: OPERATOR_NS } } }).catch((err: unknown) => {
      if (httpStatus(err) !== 409) throw err;
    });
    kubectlAs(state, 'admin', ['apply', '--server-side', '-k', join(REPO_ROOT, 'config/rbac')]);
    const saToken = await token(api, OPERATOR_NS, OPERATOR_SA);
    const namespaces = await prepareNamespaces(api, NAMESPACES);
    const identities = await prepareLoad(state, api);
    say("the operator: the bundle, the Deployment's Node flags, its own token");
    const operator = await spawnOperator({
      kubeconfig: operatorKubeconfig(state, dir, saToken),
      context: 'operator',
      dir,
      name: 'overload-operator',
      entry: buildOperatorBundle(join(dir, 'dist')),
      nodeArgs: DEPLOYMENT_NODE_ARGS,
      config: {
        approvedRegistries: ['registry.example.com/debug/'],
        maxTtl: '4h',
        revocationSettle: '2s',
        leaderElection: { enabled: true, namespace: OPERATOR_NS },
      },
      env: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' },
    });
    op = operator;
    await operator.waitUntilReady(120_000);
    const events = new BindingEvents();
    const watch = await watchBindings(api, (t, k) => {
      events.handle(t, k);
    });
    const phases: Phase[] = [];
    const phase = async (name: string, loaded: boolean, floor = false): Promise<void> => {
      say(
        `${name}: ${loaded ? `${String(identities.length)} identities × ${String(LOOPS)} loops listing ${String(CONFIGMAPS)} ConfigMaps; ` : ''}${String(EXPIRIES)} expiries ${String(SPACING_MS)} ms apart (load ${load()})`,
      );
      const before = await operator429s(operator);
      if (loaded) {
        running = startLoad(state, identities);
        await sleep(5000);
      }
      const m = floor
        ? { lateness: await measureFloor(api, namespaces), activation: summarize([]), lateActivations: 0 }
        : await measureExpiries(
            api,
            events,
            namespaces,
            name
              .toLowerCase()
              .replace(/[^a-z]+/g, '-')
              .replace(/-+$/, ''),
          );
      const loadAverage = load();
      const stats = await running?.stop();
      running = undefined;
      const operator429 = (await operator429s(operator)) - before;
      phases.push({ name, ...m, load: stats, operator429, loadAverage });
      say(
        `${name}: lateness p50 ${ms(m.lateness.p50)} p99 ${ms(m.lateness.p99)}; activation p99 ${ms(m.activation.p99)} (${String(m.lateActivations)} not active by their deadline); ` +
          `${stats ? `load ${(stats.requests / stats.seconds).toFixed(0)} req/s, ${String(stats.throttled)} answered 429; ` : ''}operator 429s ${String(operator429)}`,
      );
    };
    await phase('quiet', false);
    await phase('saturated, no FlowSchema', true);
    say('applying config/flowcontrol');
    kubectlAs(state, 'admin', ['apply', '--server-side', '-k', join(REPO_ROOT, 'config/flowcontrol')]);
    await waitForClassification(state, api, saToken, 'debuggrant-operator');
    await phase('saturated, with FlowSchemas', true);
    // What the API server itself allows under that load: the admin's own deletes are exempt from APF.
    await phase('floor, saturated: admin deletes the RoleBinding', true, true);
    await phase('quiet, with FlowSchemas', false);
    await watch.stop();

    const quiet = phases[0]?.lateness.p99 ?? NaN;
    const rows = phases.map((p) => [
      p.name,
      String(p.lateness.n),
      ms(p.lateness.p50),
      ms(p.lateness.p99),
      ms(p.lateness.max),
      `${(p.lateness.p99 / quiet).toFixed(1)}x`,
      `${ms(p.activation.p99)}${p.lateActivations ? ` (+${String(p.lateActivations)} late)` : ''}`,
      p.load ? `${(p.load.requests / p.load.seconds).toFixed(0)}/s, ${String(p.load.throttled)} × 429` : '-',
      String(p.operator429),
      p.loadAverage,
    ]);
    const report = {
      when: new Date().toISOString(),
      durationSeconds: Math.round((Date.now() - started) / 1000),
      settings: { MAX_INFLIGHT, MAX_MUTATING, EXPIRIES, SERVICE_ACCOUNTS, LOOPS, CONFIGMAPS },
      phases,
    };
    mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'bench/results/overload.json'), JSON.stringify(report, null, 2));
    process.stdout.write(
      `\n${table(['phase', 'n', 'lateness p50', 'p99', 'max', 'p99 / quiet', 'activation p99', "load (users' LISTs)", 'operator 429s', 'load average'], rows)}\n` +
        `kube-apiserver --max-requests-inflight=${String(MAX_INFLIGHT)} --max-mutating-requests-inflight=${String(MAX_MUTATING)}; JSON: bench/results/overload.json (${String(report.durationSeconds)} s)\n`,
    );
  } finally {
    await running?.stop();
    await op?.stop();
    await stopControlPlane(state);
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}
