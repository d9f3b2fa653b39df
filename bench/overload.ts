// npm run bench -- overload: how late access ends while ordinary identities saturate the API
// server, with and without the operator's API Priority and Fairness objects
// (config/flowcontrol). The operator runs as it ships: the bundle, the Deployment's Node
// flags, its own ServiceAccount's token and config/rbac (the other benches run it as the
// local admin, whom APF exempts). Load: ServiceAccounts of an ordinary workload and the local
// people (alice, bob, carol, gitops) each LIST a namespace of ConfigMaps in a few loops, on
// loopback only, each phase stopping by itself. Lateness: grants whose notAfter is known, SAR
// (as the exempt admin, so the judge is never queued) polled until it denies.
// Two kinds of overload, each with its own floor (an admin, whom APF exempts, deleting
// RoleBindings directly under the same load):
// - cpu: every loop LISTs 400 ConfigMaps of ~1 KB. Serializing them saturates the two cores
//   themselves; the API server's seats are busy because its CPUs are. No priority level buys
//   CPU back: this load shows what is left when the machine itself is the bottleneck.
// - seats: every loop writes its own small ConfigMap through a validating webhook that answers
//   after BENCH_OVERLOAD_WEBHOOK_MS (hack/slow-webhook.ts): each write holds its APF seat for
//   the whole delay at almost no CPU, so the users' priority levels are full and queued (or
//   rejected) while the cores are not. This is what APF is for, and what the FlowSchemas are
//   judged against.
// Each phase's 20 grants are activated first (before its load starts, so that every one has
// access to lose), then the load runs from 5 s before the first deadline until the last grant is
// judged.
// Phases: quiet; per mode saturated without the FlowSchemas; then (config/flowcontrol applied)
// per mode saturated with them and its floor; quiet with them. Each phase also records what
// the lateness is made of (bench/overload-probes.ts): the API server's APF queue wait per
// priority level, the operator's delete attempts and replaced connections, its event loop's
// lag, how long its main thread and the API server's threads waited for a CPU, and the split
// between the deadline → the RoleBinding's DELETED event and that event → the authorizer
// denying.
// Knobs: BENCH_OVERLOAD_MODES ("cpu,seats"), BENCH_OVERLOAD_INFLIGHT (kube-apiserver
// --max-requests-inflight and --max-mutating-requests-inflight, default "20,10": few enough
// seats for two cores to saturate), BENCH_OVERLOAD_EXPIRIES (20 per phase),
// BENCH_OVERLOAD_SERVICE_ACCOUNTS (8), BENCH_OVERLOAD_LOOPS (loops per identity, 6),
// BENCH_OVERLOAD_CONFIGMAPS (400, ~1 KB each), BENCH_OVERLOAD_WEBHOOK_MS (1000),
// BENCH_OVERLOAD_CHECKOUT (a checkout, e.g. a git worktree of an older commit, whose operator
// bundle, config/rbac and config/flowcontrol are measured; default this one).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { stringify } from 'yaml';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { REPO_ROOT, installCrds, kubectlAs } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane, type PlaneState } from '../hack/controlplane/plane.ts';
import { buildOperatorBundle, spawnOperator, type OperatorProcess } from '../hack/operator-process.ts';
import { startSlowWebhook, type SlowWebhook } from '../hack/slow-webhook.ts';
import { rbacName } from '../src/api/names.ts';
import type { KubeApi } from '../src/kube/client.ts';
import { Semaphore } from './semaphore.ts';
import {
  DEPLOYMENT_NODE_ARGS,
  OPERATOR_NS,
  OPERATOR_SA,
  adminApi,
  bindUser,
  createGrant,
  ensureExecRoles,
  operatorIdentity,
  prepareNamespaces,
  serviceAccountToken,
  userCanExec,
  waitForAccess,
  watchBindings,
} from './cluster.ts';
import { BindingEvents } from './expiry.ts';
import {
  apfBetween,
  apfSnapshot,
  operatorBetween,
  operatorSnapshot,
  roleBindingDeletes,
  threadsSchedstat,
  type ApfSnapshot,
  type OperatorFigures,
  type OperatorSnapshot,
  type WaitFigures,
} from './overload-probes.ts';
import { loadAverage as load, ms, summarize, table, type Summary } from './stats.ts';

const [MAX_INFLIGHT = 20, MAX_MUTATING = 10] = (process.env.BENCH_OVERLOAD_INFLIGHT ?? '20,10').split(',').map(Number);
const EXPIRIES = Number(process.env.BENCH_OVERLOAD_EXPIRIES ?? 20);
const SERVICE_ACCOUNTS = Number(process.env.BENCH_OVERLOAD_SERVICE_ACCOUNTS ?? 8);
const LOOPS = Number(process.env.BENCH_OVERLOAD_LOOPS ?? 6);
const CONFIGMAPS = Number(process.env.BENCH_OVERLOAD_CONFIGMAPS ?? 400);
const WEBHOOK_MS = Number(process.env.BENCH_OVERLOAD_WEBHOOK_MS ?? 1000);
type Mode = 'cpu' | 'seats';
const MODES = (process.env.BENCH_OVERLOAD_MODES ?? 'cpu,seats').split(',').map((m) => {
  if (m !== 'cpu' && m !== 'seats') throw new Error(`BENCH_OVERLOAD_MODES: "${m}" is neither cpu nor seats`);
  return m;
});
const CHECKOUT = process.env.BENCH_OVERLOAD_CHECKOUT ?? REPO_ROOT;
/** The priority levels whose queue wait each phase reports (the built-in ones the load and the operator land in, and the operator's own). */
const LEVELS = ['workload-low', 'global-default', 'debuggrant-revocation', 'debuggrant-operator', 'debuggrant-leader-election'];
const NAMESPACES = 20;
const SPACING_MS = 500;
/** A grantee who still has access this long after the deadline is counted as not revoked, at this lateness. */
const GIVE_UP_MS = 60_000;
/** Time to activate a phase's grants before the first deadline (activation itself is slow under load). */
const LEAD_MS = 20_000;
/** The load runs at least this long before the first deadline. */
const LOAD_WARMUP_MS = 5_000;
/** No load phase outlasts this, whatever happens to the measurement. */
const MAX_LOAD_MS = 180_000;
const LOAD_NS = 'bench-load';
const say = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};
const sleep = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t)));

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
interface Phase extends Measured {
  name: string;
  load: LoadStats | undefined;
  operator429: number;
  loadAverage: string;
  apf: Record<string, WaitFigures & { rejected: number }>;
  operator: OperatorFigures | undefined;
  /** Times the operator exited during the phase (and was started again). */
  operatorRestarts: number;
  /** The API server's threads: CPU used and time waited for a CPU, summed (ms). */
  apiserverCpuMs: number;
  apiserverRunQueueWaitMs: number;
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
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'patch'] }],
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
    accounts.push({ name: `serviceaccount ${name}`, token: await serviceAccountToken(api, LOAD_NS, name) });
  }
  const identities = [...accounts, ...people.map((p) => ({ name: p, token: state.tokens[p] ?? '' }))];
  // The seats load's own small ConfigMaps, one per loop, made before the webhook sees any write.
  await Promise.all(
    identities.flatMap((_, i) =>
      Array.from({ length: LOOPS }, (_x, j) =>
        limit.run(() => api.core.createNamespacedConfigMap({ namespace: LOAD_NS, body: { metadata: { name: seatConfigMap(i, j) }, data: { n: '0' } } })),
      ),
    ),
  );
  return identities;
}

const seatConfigMap = (identity: number, loop: number): string => `seat-${String(identity)}-${String(loop)}`;

/**
 * LOOPS loops per identity, until stop() (or MAX_LOAD_MS), loopback only: `cpu` LISTs the
 * ConfigMaps; `seats` patches the loop's own ConfigMap, which the slow webhook holds.
 */
function startLoad(state: PlaneState, identities: Identity[], mode: Mode): { stop(): Promise<LoadStats> } {
  const server = new URL(state.server);
  if (server.hostname !== '127.0.0.1') throw new Error(`the load goes to loopback only, not ${server.hostname}`);
  const agent = new Agent({ connect: { ca: readFileSync(state.caFile) }, connections: identities.length * LOOPS });
  const stats: LoadStats = { requests: 0, throttled: 0, failed: 0, seconds: 0 };
  const started = Date.now();
  const until = { at: started + MAX_LOAD_MS };
  const url = `${state.server}/api/v1/namespaces/${LOAD_NS}/configmaps`;
  const loops = identities.flatMap((id, i) =>
    Array.from({ length: LOOPS }, async (_, j) => {
      for (let n = 1; Date.now() < until.at; n++) {
        const headers = { authorization: `Bearer ${id.token}` };
        const request =
          mode === 'cpu'
            ? { headers }
            : {
                method: 'PATCH',
                headers: { ...headers, 'content-type': 'application/merge-patch+json' },
                body: JSON.stringify({ data: { n: String(n) } }),
              };
        try {
          const res = await fetch(mode === 'cpu' ? url : `${url}/${seatConfigMap(i, j)}`, {
            ...request,
            dispatcher: agent,
            signal: AbortSignal.timeout(60_000),
          });
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
  auditLog: string,
  loadOn: () => Promise<void>,
): Promise<Measured> {
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
  // The load starts once the grants are active (LOAD_WARMUP_MS before the first deadline at the
  // latest): what is measured is how late access ends for grants that had it. (Activated under
  // the load, most of them had none by their deadline when the FlowSchemas were missing.)
  await Promise.race([Promise.all(active), sleep(base - LOAD_WARMUP_MS - 3000 - Date.now())]);
  await loadOn();
  const deletedAt = grants.map((g) => events.next('DELETED', g.namespace, rbacName(g.name)).then(() => Date.now()));
  const lateness: number[] = [];
  const deleted: number[] = [];
  const judged: number[] = [];
  const judge: number[] = [];
  let unrevoked = 0;
  // Each grant judged on its own from 20 ms before its deadline: one revoked late must not
  // delay the judging of the next (the grants are only SPACING_MS apart).
  await Promise.all(
    grants.map(async (g, i) => {
      await sleep(g.at - 20 - Date.now());
      const denied = await waitForDenial(api, g.user, g.namespace, g.at + GIVE_UP_MS);
      if (!denied) {
        // Counted at the limit (a lower bound) and reported beside the figures.
        unrevoked++;
        lateness.push(GIVE_UP_MS);
        return;
      }
      lateness.push(denied.at - g.at);
      judge.push(denied.roundTripMs);
      const seen = await Promise.race([deletedAt[i] ?? NaN, sleep(10_000).then(() => NaN)]);
      deleted.push(seen - g.at);
      judged.push(denied.at - seen);
    }),
  );
  await Promise.all(active);
  // The operator's side of it, from the API server's audit log: when its first DELETE arrived, and how long the one that deleted took there.
  const requests = roleBindingDeletes(auditLog, `system:serviceaccount:${OPERATOR_NS}:${OPERATOR_SA}`);
  const sent: number[] = [];
  const served: number[] = [];
  let attempts = 0;
  for (const g of grants) {
    const r = requests.get(`${g.namespace}/${rbacName(g.name)}`);
    if (!r?.deleted) continue;
    const { received, answered } = r.deleted;
    sent.push((r.received[0] ?? NaN) - g.at);
    served.push(answered - received);
    attempts += r.received.filter((t) => t <= received).length;
  }
  return {
    sent: summarize(sent),
    served: summarize(served),
    attempts,
    unrevoked,
    lateness: summarize(lateness),
    deleted: summarize(deleted.filter((v) => !Number.isNaN(v))),
    judged: summarize(judged.filter((v) => !Number.isNaN(v))),
    judge: summarize(judge),
    activation: summarize(activation),
    lateActivations,
  };
}

interface Measured {
  lateness: Summary;
  /** Deadline → the RoleBinding's DELETED event seen by the bench's (admin) watch. */
  deleted: Summary;
  /** That event → the authorizer's first denial (its cache catching up, and the judge's own round trip). */
  judged: Summary;
  /** Round trip of the SubjectAccessReview that saw the denial. */
  judge: Summary;
  /** Create → RoleBinding seen, for the phase's grants. */
  activation: Summary;
  /** Grants whose RoleBinding was not there by their deadline (their lateness still counts). */
  lateActivations: number;
  /** Deadline → the API server received the operator's first DELETE (its audit log). */
  sent: Summary;
  /** The DELETE that removed the RoleBinding: received → answered by the API server (APF queue wait and execution). */
  served: Summary;
  /** The operator's DELETE attempts up to the one that removed it, all grants. */
  attempts: number;
  /** Grants whose grantee still had access GIVE_UP_MS after the deadline (their lateness counts as GIVE_UP_MS). */
  unrevoked: number;
}

/** Polls (as the exempt admin) until `user` can no longer exec; when, and the round trip of the review that said so. */
async function waitForDenial(api: KubeApi, user: string, namespace: string, giveUpAt: number): Promise<{ at: number; roundTripMs: number } | undefined> {
  for (; Date.now() < giveUpAt; await sleep(1)) {
    const sent = Date.now();
    if (!(await userCanExec(api, user, namespace))) return { at: Date.now(), roundTripMs: Date.now() - sent };
  }
  return undefined;
}

/** The floor under the same load: an admin (exempt from APF) deletes a RoleBinding, SAR polled until it denies. */
async function measureFloor(api: KubeApi, namespaces: string[]): Promise<Measured> {
  await ensureExecRoles(api, namespaces);
  const lateness: number[] = [];
  const deleted: number[] = [];
  const judged: number[] = [];
  const judge: number[] = [];
  for (let i = 0; i < EXPIRIES; i++) {
    const namespace = namespaces[i % namespaces.length] ?? '';
    const user = `floor-${String(i)}-${String(Date.now())}`;
    await bindUser(api, namespace, user, user);
    await waitForAccess(api, user, namespace, true, 120_000, 10);
    const t0 = Date.now();
    await api.rbac.deleteNamespacedRoleBinding({ namespace, name: user });
    const answered = Date.now();
    const denied = await waitForDenial(api, user, namespace, t0 + 120_000);
    if (!denied) throw new Error(`${user} in ${namespace}: access never ended after the admin's delete`);
    lateness.push(denied.at - t0);
    deleted.push(answered - t0);
    judged.push(denied.at - answered);
    judge.push(denied.roundTripMs);
  }
  // For the floor, "deleted" is the admin's DELETE answered (no watch event needed: the bench made the call).
  return {
    lateness: summarize(lateness),
    sent: summarize([]),
    served: summarize([]),
    attempts: EXPIRIES,
    unrevoked: 0,
    deleted: summarize(deleted),
    judged: summarize(judged),
    judge: summarize(judge),
    activation: summarize([]),
    lateActivations: 0,
  };
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
  let stopping = false;
  let running: { stop(): Promise<LoadStats> } | undefined;
  let webhook: SlowWebhook | undefined;
  try {
    installCrds(state);
    const api = adminApi(state, 60_000);
    say(`the operator's ServiceAccount and RBAC (${CHECKOUT}/config/rbac), namespaces, ConfigMaps and identities for the load`);
    const identity = await operatorIdentity(state, api, dir, CHECKOUT);
    const saToken = identity.token;
    const namespaces = await prepareNamespaces(api, NAMESPACES);
    const identities = await prepareLoad(state, api);
    if (MODES.includes('seats')) {
      webhook = await startSlowWebhook(dir, WEBHOOK_MS);
      kubectlAs(
        state,
        'admin',
        ['apply', '--server-side', '-f', '-'],
        stringify(webhook.configuration('bench-slow-writes', LOAD_NS, { operations: ['CREATE', 'UPDATE'], apiGroups: [''], resources: ['configmaps'] })),
      );
    }
    say(`the operator: the bundle of ${CHECKOUT}, the Deployment's Node flags, its own token`);
    mkdirSync(join(dir, 'dist'), { recursive: true });
    const entry = CHECKOUT === REPO_ROOT ? buildOperatorBundle(join(dir, 'dist')) : bundleOf(CHECKOUT, join(dir, 'dist'));
    const launch = (): Promise<OperatorProcess> =>
      spawnOperator({
        kubeconfig: identity.kubeconfig,
        context: 'operator',
        dir,
        name: 'overload-operator',
        entry,
        nodeArgs: DEPLOYMENT_NODE_ARGS,
        config: {
          approvedRegistries: ['registry.example.com/debug/'],
          maxTtl: '4h',
          revocationSettle: '2s',
          leaderElection: { enabled: true, namespace: OPERATOR_NS },
        },
        env: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' },
      });
    // Started again whenever it exits (it does when it loses its Lease), as a Deployment's pod would be.
    const supervise = (p: OperatorProcess): void => {
      p.child.once('exit', (code, signal) => {
        if (stopping) return;
        restarts++;
        say(`the operator exited (${String(code ?? signal)}): ${lastError(p.logFile)}; starting it again, as its Deployment would`);
        void launch().then((next) => {
          op = next;
          supervise(next);
        });
      });
    };
    let restarts = 0;
    op = await launch();
    supervise(op);
    await op.waitUntilReady(120_000);
    const operator = (): OperatorProcess => {
      if (!op) throw new Error('no operator');
      return op;
    };
    const events = new BindingEvents();
    const watch = await watchBindings(api, (t, k) => {
      events.handle(t, k);
    });
    const phases: Phase[] = [];
    const snapshot = async (): Promise<{ apf: ApfSnapshot; operator: OperatorSnapshot; apiserver: { ranNs: number; waitedNs: number } }> => ({
      apf: await apfSnapshot(state),
      operator: await operatorSnapshot(operator().metricsUrl, operator().logFile, operator().pid),
      apiserver: threadsSchedstat(state.pids.apiserver),
    });
    const phase = async (name: string, mode: Mode | undefined, floor = false): Promise<void> => {
      const what =
        mode === 'cpu'
          ? `${String(identities.length)} identities × ${String(LOOPS)} loops listing ${String(CONFIGMAPS)} ConfigMaps; `
          : mode === 'seats'
            ? `${String(identities.length)} identities × ${String(LOOPS)} loops writing ConfigMaps through a ${String(WEBHOOK_MS)} ms webhook; `
            : '';
      say(`${name}: ${what}${String(EXPIRIES)} expiries ${String(SPACING_MS)} ms apart (load ${load()})`);
      const restartsBefore = restarts;
      let before = 0;
      let start: Awaited<ReturnType<typeof snapshot>> | undefined;
      // The figures of the phase are from the moment its load starts.
      const loadOn = async (): Promise<void> => {
        before = await operator429s(operator());
        start = await snapshot();
        if (mode) {
          running = startLoad(state, identities, mode);
          await sleep(LOAD_WARMUP_MS);
        }
      };
      if (floor) await loadOn();
      const m = floor
        ? await measureFloor(api, namespaces)
        : await measureExpiries(
            api,
            events,
            namespaces,
            name
              .toLowerCase()
              .replace(/[^a-z]+/g, '-')
              .replace(/-+$/, ''),
            state.auditLog,
            loadOn,
          );
      if (!start) throw new Error('the phase never started its load');
      const end = await snapshot();
      const loadAverage = load();
      const stats = await running?.stop();
      running = undefined;
      const operatorRestarts = restarts - restartsBefore;
      // A restarted operator's counters start again from zero: its figures for the phase are left out.
      const operator429 = operatorRestarts ? NaN : (await operator429s(operator())) - before;
      phases.push({
        name,
        ...m,
        load: stats,
        operator429,
        loadAverage,
        apf: apfBetween(start.apf, end.apf, LEVELS),
        operator: operatorRestarts ? undefined : operatorBetween(start.operator, end.operator),
        operatorRestarts,
        apiserverCpuMs: (end.apiserver.ranNs - start.apiserver.ranNs) / 1e6,
        apiserverRunQueueWaitMs: (end.apiserver.waitedNs - start.apiserver.waitedNs) / 1e6,
      });
      say(
        `${name}: lateness p50 ${ms(m.lateness.p50)} p99 ${ms(m.lateness.p99)}; activation p99 ${ms(m.activation.p99)} (${String(m.lateActivations)} not active by their deadline); ` +
          `${stats ? `load ${(stats.requests / stats.seconds).toFixed(0)} req/s, ${String(stats.throttled)} answered 429; ` : ''}operator 429s ${String(operator429)}`,
      );
    };
    await phase('quiet', undefined);
    for (const mode of MODES) await phase(`${mode}: saturated, no FlowSchema`, mode);
    say(`applying ${CHECKOUT}/config/flowcontrol`);
    kubectlAs(state, 'admin', ['apply', '--server-side', '-k', join(CHECKOUT, 'config/flowcontrol')]);
    await waitForClassification(state, api, saToken, 'debuggrant-operator');
    for (const mode of MODES) {
      await phase(`${mode}: saturated, with FlowSchemas`, mode);
      // What the API server itself allows under that load: the admin's own deletes are exempt from APF.
      await phase(`${mode}: floor, admin deletes (exempt)`, mode, true);
    }
    await phase('quiet, with FlowSchemas', undefined);
    await watch.stop();
    printReport(phases, started);
  } catch (err) {
    if (op) say(`the operator's log ends:\n${readFileSync(op.logFile, 'utf8').split('\n').slice(-30).join('\n')}`);
    throw err;
  } finally {
    await running?.stop();
    stopping = true;
    await op?.stop();
    await webhook?.close();
    await stopControlPlane(state);
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

/** The operator's last error log line (pino JSON, level 50 and up): why it exited. */
function lastError(logFile: string): string {
  const errors = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => /"level":(5|6)\d/.test(l));
  return errors.at(-1) ?? 'no error logged';
}

/** Another checkout's operator bundle (its own hack/bundle.ts and node_modules). */
function bundleOf(checkout: string, dir: string): string {
  execFileSync(process.execPath, [join(checkout, 'hack/bundle.ts'), dir], { cwd: checkout, stdio: ['ignore', 'inherit', 'inherit'] });
  return join(dir, 'operator.mjs');
}

function printReport(phases: Phase[], started: number): void {
  const quiet = phases[0]?.lateness.p99 ?? NaN;
  const rows = phases.map((p) => [
    p.name,
    String(p.lateness.n),
    ms(p.lateness.p50),
    ms(p.lateness.p99),
    `${ms(p.lateness.max)}${p.unrevoked ? ` (${String(p.unrevoked)} not revoked within ${ms(GIVE_UP_MS)})` : ''}`,
    `${(p.lateness.p99 / quiet).toFixed(1)}x`,
    `${ms(p.activation.p99)}${p.lateActivations ? ` (+${String(p.lateActivations)} late)` : ''}`,
    p.load ? `${(p.load.requests / p.load.seconds).toFixed(0)}/s, ${String(p.load.throttled)} × 429` : '-',
    p.operatorRestarts ? `restarted ${String(p.operatorRestarts)}×` : String(p.operator429),
    p.loadAverage,
  ]);
  const wait = (w: WaitFigures | undefined): string => (w && w.requests ? `${ms(w.meanMs)} / ≤${ms(w.p99BoundMs)} (${String(w.requests)})` : '-');
  const parts = phases.map((p) => [
    p.name,
    `${ms(p.sent.p50)} / ${ms(p.sent.p99)}`,
    `${ms(p.served.p50)} / ${ms(p.served.p99)}`,
    `${String(p.attempts)} / ${String(p.lateness.n)}`,
    `${ms(p.deleted.p50)} / ${ms(p.deleted.p99)}`,
    `${ms(p.judged.p50)} / ${ms(p.judged.p99)}`,
    `${ms(p.judge.p50)} / ${ms(p.judge.p99)}`,
    wait(p.apf['debuggrant-revocation']),
    wait(p.apf['workload-low']),
    wait(p.apf['global-default']),
    String(Object.values(p.apf).reduce((t, l) => t + l.rejected, 0)),
    ...(p.operator
      ? [
          Object.entries(p.operator.deletes)
            .map(([code, n]) => `${code}: ${String(n)}`)
            .join(', ') || '-',
          String(p.operator.replacedConnections),
          `${ms(p.operator.cpuMs)} / ${ms(p.operator.runQueueWaitMs)}`,
          `${ms(p.operator.eventLoopLagP99Ms)} / ${ms(p.operator.eventLoopLagMaxMs)}`,
        ]
      : Array<string>(4).fill(`(it exited ${String(p.operatorRestarts)}× and was restarted)`)),
    `${ms(p.apiserverCpuMs)} / ${ms(p.apiserverRunQueueWaitMs)}`,
  ]);
  const report = {
    when: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    checkout: CHECKOUT,
    settings: { MODES, MAX_INFLIGHT, MAX_MUTATING, EXPIRIES, SERVICE_ACCOUNTS, LOOPS, CONFIGMAPS, WEBHOOK_MS },
    phases,
  };
  mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'bench/results/overload.json'), JSON.stringify(report, null, 2));
  process.stdout.write(
    `\n${table(['phase', 'n', 'lateness p50', 'p99', 'max', 'p99 / quiet', 'activation p99', "load (users' requests)", 'operator 429s', 'load average'], rows)}\n\n` +
      `What it is made of (p50 / p99; for the floor, "deadline → DELETED" is the admin's DELETE answered):\n` +
      `${table(
        [
          'phase',
          "deadline → operator's DELETE received",
          'that DELETE received → answered',
          'DELETE attempts / grants',
          'deadline → DELETED seen',
          'DELETED → denied',
          'judge SAR round trip',
          'APF wait debuggrant-revocation (mean / p99 bound, requests)',
          'APF wait workload-low',
          'APF wait global-default',
          'APF 429s',
          "operator's RoleBinding deletes by answer",
          'connections replaced',
          'operator main thread CPU / run-queue wait',
          'event-loop lag p99 / max',
          'kube-apiserver CPU / run-queue wait',
        ],
        parts,
      )}\n` +
      `${CHECKOUT}; kube-apiserver --max-requests-inflight=${String(MAX_INFLIGHT)} --max-mutating-requests-inflight=${String(MAX_MUTATING)}; JSON: bench/results/overload.json (${String(report.durationSeconds)} s)\n`,
  );
}
