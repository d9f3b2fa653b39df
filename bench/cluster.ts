// The benchmark's view of the cluster: the real local control plane, the real operator in
// its own process, and SubjectAccessReview from outside as the only judge of access.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import * as k8s from '@kubernetes/client-node';
import { REPO_ROOT, kubectlAs } from '../hack/controlplane/install.ts';
import type { PlaneState } from '../hack/controlplane/plane.ts';
import { buildOperatorBundle, spawnOperator, type OperatorProcess } from '../hack/operator-process.ts';
import { GROUP, PLURAL, VERSION } from '../src/api/schema.ts';
import { fromKubeConfig, type KubeApi } from '../src/kube/client.ts';
import { roleBindingSource } from '../src/kube/informers.ts';
import { makeLogger } from '../src/log.ts';
import { systemClock } from '../src/runtime/clock.ts';
import { ResilientInformer } from '../src/runtime/informer.ts';
import { httpStatus } from '../src/runtime/errors.ts';
import { Semaphore } from './semaphore.ts';

export const IMAGE = `registry.example.com/debug/netshoot@sha256:${'e'.repeat(64)}`;
export const POD = 'target';

/** `requestMs`: the harness's own request timeout (longer when it loads the API server on purpose). */
export function adminApi(state: PlaneState, requestMs?: number): KubeApi {
  return userApi(state, 'admin', requestMs);
}

const sarLimit = new Semaphore(64);

/** Can `user` exec into the target pod, in the authorizer's own words? */
export function userCanExec(api: KubeApi, user: string, namespace: string): Promise<boolean> {
  return sarLimit.run(async () => {
    const r = await api.authz.createSubjectAccessReview({
      body: {
        spec: { user, groups: ['system:authenticated'], resourceAttributes: { namespace, verb: 'create', resource: 'pods', subresource: 'exec', name: POD } },
      },
    });
    return r.status?.allowed === true;
  });
}

/** Polls SubjectAccessReview until it answers `want`; resolves with the time it did. */
export async function waitForAccess(
  api: KubeApi,
  user: string,
  namespace: string,
  want: boolean,
  timeoutMs = 120_000,
  everyMs = 2,
  onLook: () => void = () => undefined,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    onLook();
    if ((await userCanExec(api, user, namespace)) === want) return Date.now();
    if (Date.now() > deadline) throw new Error(`${user} in ${namespace}: access never became ${String(want)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function prepareNamespaces(api: KubeApi, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `bench-${String(i).padStart(3, '0')}`);
  const limit = new Semaphore(16);
  await Promise.all(
    names.map((namespace) =>
      limit.run(async () => {
        await api.core.createNamespace({ body: { metadata: { name: namespace } } });
        // On a real node the controller-manager may have made it first.
        await api.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } }).catch((err: unknown) => {
          if (httpStatus(err) !== 409) throw err;
        });
        await api.core.createNamespacedPod({
          namespace,
          body: {
            metadata: { name: POD, labels: { app: 'bench' } },
            spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: IMAGE }] },
          },
        });
      }),
    ),
  );
  return names;
}

/** `app`: the pods it selects by their app label (default: each namespace's target pod). */
/** A RoleBinding of `user` to the bench-exec Role (exec into the target pod), as an admin would write it. */
export async function bindUser(
  api: KubeApi,
  namespace: string,
  name: string,
  user: string,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
): Promise<void> {
  await api.rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name, labels, annotations },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'bench-exec' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    },
  });
}

/** The bench-exec Role in each namespace: create/get pods/exec on the target pod. */
export async function ensureExecRoles(api: KubeApi, namespaces: string[]): Promise<void> {
  await Promise.all(
    namespaces.map((namespace) =>
      api.rbac
        .createNamespacedRole({
          namespace,
          body: { metadata: { name: 'bench-exec' }, rules: [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'], resourceNames: [POD] }] },
        })
        .catch(() => undefined),
    ),
  );
}

export interface GrantRequest {
  namespace: string;
  name: string;
  user: string;
  ttl: string;
  notAfter?: string;
  app?: string;
}

export async function createGrant(api: KubeApi, g: GrantRequest): Promise<void> {
  await api.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    namespace: g.namespace,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'DebugGrant',
      metadata: { name: g.name, namespace: g.namespace },
      spec: {
        subject: { kind: 'User', name: g.user },
        podSelector: { matchLabels: { app: g.app ?? 'bench' } },
        image: IMAGE,
        ttl: g.ttl,
        access: ['exec'],
        reason: 'benchmark grant, measuring latency',
        ...(g.notAfter ? { notAfter: g.notAfter } : {}),
      },
    },
  });
}

/**
 * RoleBinding events of the operator's grants, by namespace/name, as they happen: the
 * operator's own resilient informer, so a watch the server closes is resumed.
 */
export async function watchBindings(
  api: KubeApi,
  on: (type: 'ADDED' | 'DELETED', key: string) => void,
): Promise<{ stop(): Promise<void>; get(name: string, namespace?: string): unknown }> {
  const informer = new ResilientInformer('bench-rolebindings', roleBindingSource(api), systemClock, makeLogger('silent'), (obj, event) => {
    if (event !== 'update') on(event === 'add' ? 'ADDED' : 'DELETED', `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`);
  });
  await informer.start();
  return informer;
}

export type { OperatorProcess } from '../hack/operator-process.ts';

/**
 * The Node flags the operator ships with: NODE_OPTIONS in config/manager/manager.yaml, then
 * the image's own (the Dockerfile's CMD). test/unit/dockerfile.test.ts keeps them equal.
 */
export const DEPLOYMENT_NODE_ARGS = ['--max-old-space-size=256', '--max-semi-space-size=1', '--max-opt=2'];

/**
 * The operator as it ships: the bundle (built from this checkout into `dir`) with the
 * Deployment's Node flags. BENCH_OPERATOR_ENTRY runs another entry (e.g. src/main.ts, or an
 * older checkout's bundle); BENCH_OPERATOR_NODE_ARGS replaces the flags.
 */
export async function startOperator(state: PlaneState, dir: string, workers: number): Promise<OperatorProcess> {
  const entry = process.env.BENCH_OPERATOR_ENTRY ?? buildOperatorBundle(join(dir, 'dist'));
  const nodeArgs = process.env.BENCH_OPERATOR_NODE_ARGS === undefined ? DEPLOYMENT_NODE_ARGS : process.env.BENCH_OPERATOR_NODE_ARGS.split(' ').filter(Boolean);
  const operator = await spawnOperator({
    kubeconfig: state.kubeconfig,
    dir,
    name: 'bench-operator',
    entry,
    config: { approvedRegistries: ['registry.example.com/debug/'], maxTtl: '4h', workers, revocationSettle: '2s' },
    nodeArgs,
    env: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' },
  });
  await operator.waitUntilReady(60_000);
  return operator;
}

/** Resident memory now and at its peak so far (VmHWM), in MB, and CPU time (s) of a process, from /proc. */
/**
 * RSS, peak RSS, its anonymous part (the process's own memory: heap, malloc) and its
 * file-backed part (mostly the `node` binary's pages, shared with every other node process,
 * so it varies with the page cache) from /proc, and CPU time.
 */
export function processUsage(pid: number): { rssMb: number; peakRssMb: number; rssAnonMb: number; rssFileMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const rssKb = kb('VmRSS');
  const peakKb = kb('VmHWM');
  const stat =
    readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
      .split(') ')[1]
      ?.split(' ') ?? [];
  const ticks = Number(stat[11] ?? 0) + Number(stat[12] ?? 0);
  return { rssMb: rssKb / 1024, peakRssMb: peakKb / 1024, rssAnonMb: kb('RssAnon') / 1024, rssFileMb: kb('RssFile') / 1024, cpuSeconds: ticks / 100 };
}

/** V8 heap in use and Node's total heap (MB), from the operator's own process metrics. */
export async function operatorHeap(metricsUrl: string): Promise<{ heapUsedMb: number; heapTotalMb: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const read = (name: string): number => Number(new RegExp(`^${name} ([\\d.e+]+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
  return { heapUsedMb: read('nodejs_heap_size_used_bytes'), heapTotalMb: read('nodejs_heap_size_total_bytes') };
}

/** Where the operator's metrics are read: a plain-HTTP URL, or a scrape (OperatorProcess.scrapeMetrics, for HTTPS). */
export type MetricsSource = string | (() => Promise<string>);
const metricsText = async (from: MetricsSource): Promise<string> => (typeof from === 'string' ? (await fetch(from)).text() : from());

/** Total API requests the operator has made (its own histogram's count). */
export async function operatorRequests(metrics: MetricsSource): Promise<number> {
  const text = await metricsText(metrics);
  let total = 0;
  for (const m of text.matchAll(/^debuggrant_api_request_duration_seconds_count\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
  return total;
}

/** Mean latency (ms) and count of the operator's API requests, by operation. */
export async function operatorRequestLatency(metricsUrl: string): Promise<Record<string, { count: number; meanMs: number }>> {
  const text = await (await fetch(metricsUrl)).text();
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/^debuggrant_api_request_duration_seconds_(sum|count)\{([^}]*)\} ([\d.e+-]+)/gm)) {
    const target = m[1] === 'sum' ? sums : counts;
    // By operation, and for custom objects (builds that label it) by resource: "replaceNamespacedCustomObject debuggrantindexes".
    const label = (name: string): string => new RegExp(`${name}="([^"]*)"`).exec(m[2] ?? '')?.[1] ?? '';
    const op = [label('operation'), label('resource')].filter(Boolean).join(' ');
    target.set(op, (target.get(op) ?? 0) + Number(m[3]));
  }
  return Object.fromEntries([...counts].map(([op, count]) => [op, { count, meanMs: ((sums.get(op) ?? 0) / count) * 1000 }]));
}

/** Resolves once the operator's request count stops moving for `quietMs`. */
export async function operatorSettled(metrics: MetricsSource, quietMs = 1500): Promise<void> {
  let last = await operatorRequests(metrics);
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await operatorRequests(metrics);
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

/** The operator's namespace and ServiceAccount (config/manager, config/rbac). */
export const OPERATOR_NS = 'debuggrant-system';
export const OPERATOR_SA = 'debuggrant-operator';

/** A bound token for a ServiceAccount (two hours), as a projected volume gives a pod. */
export async function serviceAccountToken(api: KubeApi, namespace: string, name: string): Promise<string> {
  const t = await api.core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { expirationSeconds: 7200 } } });
  return t.status?.token ?? '';
}

/**
 * The operator's identity as its Deployment has it: config/rbac (of `checkout`) applied, a token of its
 * ServiceAccount, and a kubeconfig file (context "operator") holding that token. Requests
 * made with it are authorized by config/rbac and queued by APF like any ServiceAccount's
 * (the local admin, whom the other benches use, is exempt from both).
 */
export async function operatorIdentity(state: PlaneState, api: KubeApi, dir: string, checkout = REPO_ROOT): Promise<{ kubeconfig: string; token: string }> {
  // installCrds may have made the namespace already (the operator's records of spent names live there).
  await api.core.createNamespace({ body: { metadata: { name: OPERATOR_NS } } }).catch((err: unknown) => {
    if (httpStatus(err) !== 409) throw err;
  });
  kubectlAs(state, 'admin', ['apply', '--server-side', '-k', join(checkout, 'config/rbac')]);
  const token = await serviceAccountToken(api, OPERATOR_NS, OPERATOR_SA);
  const kubeconfig = join(dir, 'operator-kubeconfig');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'operator',
      clusters: [{ name: 'local', cluster: { server: state.server, 'certificate-authority-data': readFileSync(state.caFile).toString('base64') } }],
      users: [{ name: 'operator', user: { token } }],
      contexts: [{ name: 'operator', context: { cluster: 'local', user: 'operator' } }],
    }),
    { mode: 0o600 },
  );
  return { kubeconfig, token };
}

/** The operator configuration the Deployment mounts: config/manager's ConfigMap debuggrant-config. */
export function shippedOperatorConfig(): Record<string, unknown> {
  const docs = parseAllDocuments(readFileSync(join(REPO_ROOT, 'config/manager/manager.yaml'), 'utf8')).map((d) => d.toJS() as unknown);
  const configMap = docs.find(
    (d): d is { data: Record<string, string> } =>
      typeof d === 'object' && d !== null && (d as { kind?: string }).kind === 'ConfigMap' && typeof (d as { data?: unknown }).data === 'object',
  );
  const text = configMap?.data['config.yaml'];
  if (text === undefined) throw new Error('config/manager/manager.yaml has no ConfigMap with config.yaml');
  return parse(text) as Record<string, unknown>;
}

/** A client as one of the local control plane's people (e.g. gitops, the only creator of grants once config/admission is in). */
export function userApi(state: PlaneState, user: string, requestMs?: number): KubeApi {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(state.kubeconfig);
  kc.setCurrentContext(user);
  return fromKubeConfig(kc, requestMs ? { timeouts: { requestMs, revocationMs: requestMs } } : {});
}
