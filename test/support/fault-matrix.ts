// One cell of the fault matrix: a grant's whole life (activation, deadline) with one kind of
// request the operator makes failing in one way, through the HTTPS fault proxy, while a
// SubjectAccessReview asked directly (not through the proxy) watches what access exists.
// The cell returns what it measured and what it saw; the test file asserts.
import type { ActiveGrantEntry, DebugGrantIndex } from '../../src/api/grant-index.ts';
import { INDEX_NAME, INDEX_PLURAL } from '../../src/api/names.ts';
import { GROUP, VERSION } from '../../src/api/schema.ts';
import type { DebugGrant } from '../../src/api/types.ts';
import { subjectCan } from '../../src/kube/access-review.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import type { AuditRecord } from '../../src/log.ts';
import { clientsFor, createPod, eventually, freshNamespace, kubeConfigFor } from './cluster.ts';
import { createGrant, getGrant, grantSpec, isReady, rbacFor } from './grants.ts';
import { matches, type Fault, type HttpFaultProxy, type ProxiedRequest, type RequestMatch } from './http-fault-proxy.ts';
import { startTestOperator } from './operator.ts';

/** Each kind of request the operator makes, as the API server sees it, in one namespace. */
export const REQUEST_KINDS = {
  'index write': (ns: string): RequestMatch => ({
    method: ['PUT', 'POST'],
    path: new RegExp(`^/apis/${GROUP}/${VERSION}/namespaces/${ns}/${INDEX_PLURAL}(/${INDEX_NAME})?$`),
  }),
  'Role apply': (ns: string): RequestMatch => ({ method: 'PATCH', path: new RegExp(`^/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles/[^/]+$`) }),
  'RoleBinding apply': (ns: string): RequestMatch => ({
    method: 'PATCH',
    path: new RegExp(`^/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/[^/]+$`),
  }),
  'RoleBinding delete': (ns: string): RequestMatch => ({
    method: 'DELETE',
    path: new RegExp(`^/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/[^/]+$`),
  }),
  'status write': (ns: string): RequestMatch => ({
    method: 'PATCH',
    path: new RegExp(`^/apis/${GROUP}/${VERSION}/namespaces/${ns}/debuggrants/[^/]+/status$`),
  }),
  'Event create': (ns: string): RequestMatch => ({ method: 'POST', path: new RegExp(`^/api/v1/namespaces/${ns}/events$`) }),
  SubjectAccessReview: (ns: string): RequestMatch => ({
    method: 'POST',
    path: /^\/apis\/authorization\.k8s\.io\/v1\/subjectaccessreviews$/,
    body: new RegExp(`"namespace":"${ns}"`),
  }),
  // Collections only: every list and watch the informers make in the namespace.
  'list/watch': (ns: string): RequestMatch => ({ method: 'GET', path: new RegExp(`^/apis?(/[^/]+)*/namespaces/${ns}/[a-z]+$`) }),
} as const;

export type RequestKind = keyof typeof REQUEST_KINDS;

export const FAULTS: Record<string, Fault> = {
  'HTTP 500': { status: 500 },
  'HTTP 429': { status: 429, retryAfterSeconds: 1 },
  reset: 'reset',
  stall: 'stall',
  'answer lost': 'answer lost',
};

/** How long each fault lasts: from the grant's creation, and from just before its deadline. */
export const ACTIVATION_FAULT_MS = 2500;
export const DEADLINE_FAULT_LEAD_MS = 300;
export const DEADLINE_FAULT_MS = 3000;
const TTL = '10s';
const GRANT = 'g';
const POLL_MS = 100;

/** One SubjectAccessReview answer; `at` is when it arrived (the decision was made no later). */
interface Observation {
  at: number;
  allowed: boolean;
}

export interface CellResult {
  kind: RequestKind;
  fault: string;
  namespace: string;
  /** Ready this long after the activation fault cleared (0 when it was ready before). */
  readyAfterClearMs: number;
  /** Access ended this long after the deadline (by SubjectAccessReview, polled every 100 ms). */
  latenessMs: number;
  /** Expired with revocation verified this long after the deadline fault cleared. */
  convergedAfterClearMs: number;
  active: DebugGrant;
  ended: DebugGrant;
  /** Every SubjectAccessReview answer, in order. */
  observations: Observation[];
  /** The first index write that recorded the grant's active entry: its answer's time and the entry. */
  indexWritten?: { at: number; entry: ActiveGrantEntry };
  /** RoleBinding applies the API server accepted (answered or not). */
  bindingWrites: ProxiedRequest[];
  audits: AuditRecord[];
  rbacLeft: { role: boolean; binding: boolean };
  indexAfter: DebugGrantIndex | undefined;
  faulted: number;
}

const sleepUntil = (at: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

/** Polls SubjectAccessReview for alice's debug access to the namespace's pod until stopped. */
function watchAccess(namespace: string): { observations: Observation[]; stop(): Promise<void> } {
  const api = fromKubeConfig(kubeConfigFor('admin'));
  const observations: Observation[] = [];
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      const allowed = await subjectCan(api, { kind: 'User', name: 'alice' }, { namespace, pod: 'api-1', verb: 'patch', subresource: 'ephemeralcontainers' });
      observations.push({ at: Date.now(), allowed });
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  })();
  return {
    observations,
    async stop() {
      state.running = false;
      await loop;
    },
  };
}

function activeEntryWritten(log: ProxiedRequest[], namespace: string, expiresAt: string): { at: number; entry: ActiveGrantEntry } | undefined {
  const indexWrite = REQUEST_KINDS['index write'](namespace);
  for (const r of log) {
    if (!reachedServer(r) || !isSuccess(r) || !matches(indexWrite, r)) continue;
    const entry = (JSON.parse(r.body) as DebugGrantIndex).active?.find((e) => e.grant === GRANT && e.expiresAt === expiresAt);
    if (entry) return { at: r.serverAnsweredAt ?? r.receivedAt, entry };
  }
  return undefined;
}

/** Forwarded to the API server, whether or not its answer came back. */
const reachedServer = (r: ProxiedRequest): boolean => r.fault === undefined || r.fault === 'answer lost';
const isSuccess = (r: ProxiedRequest): boolean => r.status !== undefined && r.status >= 200 && r.status < 300;

const readIndex = async (namespace: string): Promise<DebugGrantIndex | undefined> =>
  (await clientsFor('admin')
    .objects.read({ apiVersion: `${GROUP}/${VERSION}`, kind: 'DebugGrantIndex', metadata: { name: INDEX_NAME, namespace } })
    .catch(() => undefined)) as DebugGrantIndex | undefined;

export async function runCell(proxy: HttpFaultProxy, kind: RequestKind, faultName: string): Promise<CellResult> {
  const fault = FAULTS[faultName];
  if (!fault) throw new Error(`unknown fault ${faultName}`);
  const namespace = await freshNamespace('fm');
  await createPod(namespace, 'api-1', { app: 'checkout' });
  const match = REQUEST_KINDS[kind](namespace);
  const op = await startTestOperator([namespace], {}, { kubeConfig: proxy.kubeConfig(kubeConfigFor('admin')) });
  const access = watchAccess(namespace);
  try {
    // (a) around the activation: the fault is there when the grant arrives.
    let clear = proxy.fail(match, fault);
    await createGrant(namespace, GRANT, grantSpec({ ttl: TTL }));
    await new Promise((r) => setTimeout(r, ACTIVATION_FAULT_MS));
    clear();
    const activationCleared = Date.now();
    const active = await eventually(() => getGrant(namespace, GRANT), isReady, 30_000);
    const readyAfterClearMs = Math.max(0, Date.now() - activationCleared);
    const expiresAt = Date.parse(active?.status?.expiresAt ?? '');
    if (!active || !(expiresAt - Date.now() > DEADLINE_FAULT_LEAD_MS))
      throw new Error(`${kind}/${faultName}: ready too late to fault its deadline (expiresAt ${String(active?.status?.expiresAt)})`);

    // (b) around the deadline.
    await sleepUntil(expiresAt - DEADLINE_FAULT_LEAD_MS);
    clear = proxy.fail(match, fault);
    await sleepUntil(expiresAt - DEADLINE_FAULT_LEAD_MS + DEADLINE_FAULT_MS);
    clear();
    const deadlineCleared = Date.now();
    const ended = await eventually(
      () => getGrant(namespace, GRANT),
      (g) => g?.status?.phase === 'Expired' && g.status.conditions?.find((c) => c.type === 'RevocationVerified')?.status === 'True',
      30_000,
    );
    const convergedAfterClearMs = Date.now() - deadlineCleared;
    // The operator logs its audit line once its status write returns; this test may read the
    // written status first. Wait for the last line of the story (never there: a violation below).
    const grantAudits = (): AuditRecord[] => op.audits().filter((a) => a.grant === `${namespace}/${GRANT}`);
    await eventually(
      () => Promise.resolve(grantAudits()),
      (a) => a.some((l) => l.event === 'grant.revocation-verified'),
      10_000,
    ).catch(() => undefined);
    // The operator's own check may come within one poll of the delete: wait until this
    // watcher has seen the denial too (never: NaN lateness, a violation below).
    await eventually(
      () => Promise.resolve(access.observations.at(-1)?.allowed),
      (allowed) => allowed === false,
      10_000,
    ).catch(() => undefined);
    await access.stop();
    if (!ended) throw new Error('unreachable: eventually returned no grant');

    const observations = access.observations;
    const lastAllowed = observations.findLastIndex((o) => o.allowed);
    const endedAt = observations[lastAllowed + 1]?.at ?? Number.NaN;
    return {
      kind,
      fault: faultName,
      namespace,
      readyAfterClearMs,
      latenessMs: endedAt - expiresAt,
      convergedAfterClearMs,
      active,
      ended,
      observations,
      indexWritten: activeEntryWritten(proxy.log, namespace, active.status?.expiresAt ?? ''),
      bindingWrites: proxy.log.filter((r) => reachedServer(r) && isSuccess(r) && matches(REQUEST_KINDS['RoleBinding apply'](namespace), r)),
      audits: grantAudits(),
      rbacLeft: await rbacFor(namespace, GRANT),
      indexAfter: await readIndex(namespace),
      faulted: proxy.log.filter((r) => (r.fault ?? r.interruptedBy) && matches(match, r)).length,
    };
  } finally {
    await access.stop();
    await op.stop();
  }
}
