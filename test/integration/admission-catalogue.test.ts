// The catalogue of bad ephemeral-container requests (test/support/ephemeral-catalogue.ts),
// each sent to the real API server as the subject, with the operator stopped once the
// grants are active: every one is refused with its message and leaves the pod as it was.
// Then the deadline with no operator running: debug containers are admitted until the
// grant's expiresAt and refused from then on, by the API server's own clock, whatever the
// request shape or managedFields planted or forged; and with an operator again, revoked.
import * as k8s from '@kubernetes/client-node';
import { contentOf } from '../../src/api/grant-index.ts';
import { readIndex } from '../../src/kube/grant-index.ts';
import { clientsFor, eventually, freshNamespace, kubeConfigFor, kubectl, mergePatch, rejection } from '../support/cluster.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { bindRole, sendEphemeral, standingDebugRbac, subjects, type Requester } from '../support/debug-containers.ts';
import { CATALOGUE, EXPIRED, NET_IMAGE, SYS_IMAGE, shaped, type Place } from '../support/ephemeral-catalogue.ts';
import { createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { DEBUG_IMAGE, startTestOperator, type TestOperator } from '../support/operator.ts';

const ALL_PROFILES = { allowedProfiles: ['general', 'baseline', 'restricted', 'netadmin', 'sysadmin'] };
const EXPIRING_TTL_S = 8;

const projectedToken = (name: string): k8s.V1Volume => ({
  name,
  projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] },
});
const DATA: k8s.V1Volume = { name: 'data', emptyDir: {} };

/** Pods of the main namespace: name, labels (which grant selects them), spec additions. */
const MAIN_PODS: [string, string, Partial<k8s.V1PodSpec>][] = [
  ['web-1', 'web', {}],
  ['web-2', 'web', { volumes: [DATA, projectedToken('token')] }],
  ['root-1', 'web', { securityContext: { runAsUser: 0 } }],
  ['unconfined-1', 'web', { securityContext: { seccompProfile: { type: 'Unconfined' }, appArmorProfile: { type: 'Unconfined' } } }],
  ['hostpid-1', 'web', { hostPID: true }],
  ['hostnet-1', 'web', { hostNetwork: true }],
  ['hostipc-1', 'web', { hostIPC: true }],
  ['userns-1', 'web', { hostUsers: false }],
  ['lone-1', 'lone', {}],
  ['base-1', 'base', { volumes: [DATA] }],
  ['base-unconfined-1', 'base', { securityContext: { seccompProfile: { type: 'Unconfined' }, appArmorProfile: { type: 'Unconfined' } } }],
  ['net-1', 'net', {}],
  ['gen-1', 'gen', {}],
  ['sys-1', 'sys', { volumes: [DATA, projectedToken('token'), projectedToken('kube-api-access-abcde')] }],
];

async function pod(namespace: string, name: string, app: string, spec: Partial<k8s.V1PodSpec> = {}): Promise<void> {
  await clientsFor('admin').core.createNamespacedPod({
    namespace,
    body: { metadata: { name, labels: { app } }, spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: DEBUG_IMAGE }], ...spec } },
  });
}

const adminApi = () => fromKubeConfig(kubeConfigFor('admin'));
const readPod = (namespace: string, name: string): Promise<k8s.V1Pod> => clientsFor('admin').core.readNamespacedPod({ namespace, name });
const podState = (p: k8s.V1Pod) => ({ resourceVersion: p.metadata?.resourceVersion, ephemeral: (p.spec?.ephemeralContainers ?? []).map((c) => c.name) });

/** What the API server said: the Status message of a client-node error, or kubectl's stderr. */
function refusalText(err: unknown): string {
  if (!(err instanceof k8s.ApiException)) return String(err);
  try {
    return (JSON.parse(String(err.body)) as { message?: string }).message ?? String(err.body);
  } catch {
    return String(err.body);
  }
}

/** The refusal's message, after checking that the pod did not change. */
async function refusedAndUnchanged(namespace: string, podName: string, send: () => Promise<unknown>): Promise<string> {
  const before = podState(await readPod(namespace, podName));
  const refused = await send().then(() => undefined, refusalText);
  if (refused === undefined) throw new Error(`expected a refusal for pod ${namespace}/${podName}, but the request was admitted`);
  expect(podState(await readPod(namespace, podName))).toEqual(before);
  return refused;
}

const kubectlDebug = async (namespace: string, podName: string, container: string): Promise<void> => {
  const out = await kubectl('bob', ['-n', namespace, 'debug', podName, `--image=${DEBUG_IMAGE}`, '--profile=restricted', `--container=${container}`]);
  if (out.code !== 0) throw new Error(out.stderr);
};

/** The API server's time of a request that added `container`: its managedFields entry. */
function serverTimeOf(p: k8s.V1Pod, manager: string): number {
  const entry = p.metadata?.managedFields?.find((e) => e.manager === manager && e.subresource === 'ephemeralcontainers');
  return entry?.time ? new Date(entry.time).getTime() : NaN;
}

describe('catalogue of bad ephemeral containers, operator stopped', () => {
  const ns: Record<Place | 'expiring', string> = { main: '', other: '', served: '', 'no-index': '', expiring: '' };
  let op: TestOperator | undefined;
  let expiresAt = 0;

  beforeAll(async () => {
    for (const place of Object.keys(ns) as (keyof typeof ns)[]) ns[place] = await freshNamespace(`cat-${place}`);
    for (const [name, app, spec] of MAIN_PODS) await pod(ns.main, name, app, spec);
    await pod(ns.other, 'web-1', 'web');
    await pod(ns['no-index'], 'web-1', 'web');
    await pod(ns.served, 'web-1', 'web');
    await pod(ns.expiring, 'exp-1', 'exp');
    await pod(ns.expiring, 'exp-2', 'exp');
    for (const place of ['main', 'other', 'served', 'no-index'] as const) await standingDebugRbac(ns[place], subjects('group:system:authenticated'));
    // A grant allows patch, not update: so that a forged PUT meets the policy rather than
    // RBAC, bob may update (never patch) ephemeral containers where his grant expires.
    await bindRole(ns.expiring, 'put-only', [{ apiGroups: [''], resources: ['pods/ephemeralcontainers'], verbs: ['update'] }], subjects('bob'));
    op = await startTestOperator([ns.main, ns.other, ns.served, ns.expiring], ALL_PROFILES);
    const grants: [string, string, Record<string, unknown>][] = [
      [ns.main, 'alice-web', { podSelector: { matchLabels: { app: 'web' } } }],
      [ns.main, 'alice-base', { profile: 'baseline', podSelector: { matchLabels: { app: 'base' } } }],
      [
        ns.main,
        'engineers-net',
        { subject: { kind: 'Group', name: 'engineers' }, image: NET_IMAGE, profile: 'netadmin', podSelector: { matchLabels: { app: 'net' } } },
      ],
      [ns.main, 'alice-general', { image: SYS_IMAGE, profile: 'general', podSelector: { matchLabels: { app: 'gen' } } }],
      [ns.main, 'carol-sys', { subject: { kind: 'User', name: 'carol' }, image: SYS_IMAGE, profile: 'sysadmin', podSelector: { matchLabels: { app: 'sys' } } }],
      [ns.other, 'bob-web', { subject: { kind: 'User', name: 'bob' }, podSelector: { matchLabels: { app: 'web' } } }],
    ];
    for (const [namespace, name, over] of grants) await createGrant(namespace, name, grantSpec(over));
    for (const [namespace, name] of grants) await eventually(() => getGrant(namespace, name), isReady);
    // Last the expiring grant, so its ttl runs out soon after setup. Bob holds no standing
    // RBAC in that namespace: the grant's RoleBinding is all he has.
    await createGrant(
      ns.expiring,
      'bob-exp',
      grantSpec({ subject: { kind: 'User', name: 'bob' }, ttl: `${String(EXPIRING_TTL_S)}s`, podSelector: { matchLabels: { app: 'exp' } } }),
    );
    await eventually(() => getGrant(ns.expiring, 'bob-exp'), isReady);
    // A namespace with pods and no grant gets an empty index from the operator.
    await eventually(
      () => readIndex(adminApi(), ns.served),
      (i) => i !== undefined,
    );
    const index = await readIndex(adminApi(), ns.expiring);
    expiresAt = Date.parse(contentOf(index).active.find((e) => e.grant === 'bob-exp')?.expiresAt ?? '');
    // From here on the API server decides alone.
    await op.stop();
    op = undefined;
  });
  afterAll(async () => {
    await op?.stop();
  });

  test('the index written before the operator stopped carries the deadline', () => {
    expect(expiresAt).toBeGreaterThan(Date.now() - EXPIRING_TTL_S * 1000);
  });

  test("with no operator, debug containers are admitted until the deadline and refused from it on, by the API server's clock", async () => {
    const admittedAt: number[] = [];
    let refusal = '';
    for (let i = 0; !refusal; i++) {
      if (Date.now() > expiresAt + 15_000) throw new Error('still admitted 15 s after the deadline');
      const container = shaped('restricted', DEBUG_IMAGE, { name: `probe-${String(i)}` }) as k8s.V1EphemeralContainer;
      try {
        admittedAt.push(
          serverTimeOf(await sendEphemeral({ as: 'bob', namespace: ns.expiring, pod: 'exp-1', container, shape: 'strategic', fieldManager: 'probe' }), 'probe'),
        );
      } catch (err) {
        refusal = refusalText(err);
      }
      if (!refusal) await new Promise((r) => setTimeout(r, 250));
    }
    expect(admittedAt.length).toBeGreaterThan(0);
    // managedFields times are whole seconds: a request stamped t happened before t + 1 s,
    // and is admitted only if that is not after the deadline. Never late, up to a second early.
    for (const t of admittedAt) expect(t + 1000).toBeLessThanOrEqual(expiresAt);
    expect(refusal).toContain(`DebugGrant ${ns.expiring}/bob-exp expired at`);
    const serverTime = Date.parse(/time of this request is ([^,]+),/.exec(refusal)?.[1] ?? '');
    expect(serverTime + 1000).toBeGreaterThan(expiresAt);
    // Refused within a few seconds of the deadline (250 ms between tries, a loaded machine).
    expect(serverTime - expiresAt).toBeLessThan(5_000);
    const lastAdmitted = Math.max(...admittedAt);
    process.stderr.write(
      `[admission] no operator: last admission stamped ${String(expiresAt - lastAdmitted)} ms before expiresAt, first refusal stamped ${String(expiresAt - serverTime)} ms before it (${String(admittedAt.length)} admitted)\n`,
    );
  });

  const forgedEntry = (manager: string): k8s.V1ManagedFieldsEntry => ({
    manager,
    operation: 'Update',
    apiVersion: 'v1',
    subresource: 'ephemeralcontainers',
    time: new Date('2026-01-01T00:00:00Z'),
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:spec': { 'f:ephemeralContainers': {} } },
  });

  async function plant(kind: 'same-manager' | 'squatter' | 'future', containerName: string): Promise<void> {
    const entries: k8s.V1ManagedFieldsEntry[] =
      kind === 'same-manager'
        ? [forgedEntry('kubectl')]
        : kind === 'squatter'
          ? [
              {
                ...forgedEntry('squatter'),
                fieldsV1: { 'f:spec': { 'f:ephemeralContainers': { [`k:{"name":"${containerName}"}`]: { '.': {}, 'f:image': {}, 'f:name': {} } } } },
              },
            ]
          : Array.from({ length: 12 }, (_, i) => ({
              manager: `future-${String(i)}`,
              operation: 'Update',
              apiVersion: 'v1',
              time: new Date('2030-01-01T00:00:00Z'),
              fieldsType: 'FieldsV1',
              fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} } } },
            }));
    const current = (await readPod(ns.expiring, 'exp-2')).metadata?.managedFields ?? [];
    await clientsFor('admin').core.patchNamespacedPod(
      { namespace: ns.expiring, name: 'exp-2', body: { metadata: { managedFields: [...current, ...entries] } } },
      mergePatch,
    );
  }

  describe('after the deadline, with no operator running', () => {
    beforeAll(async () => {
      // The probe above ends once the deadline passed; this waits if it was skipped.
      while (Date.now() < expiresAt + 1500) await new Promise((r) => setTimeout(r, 250));
    });

    test.each(EXPIRED.map((c, i) => [c.what, i] as const))('refused: %s', async (_what, i) => {
      const c = EXPIRED[i];
      if (!c) throw new Error('no such case');
      const podName = c.plant ? 'exp-2' : 'exp-1';
      const container = shaped('restricted', DEBUG_IMAGE) as k8s.V1EphemeralContainer;
      if (c.plant) await plant(c.plant, container.name);
      const message = await refusedAndUnchanged(ns.expiring, podName, () =>
        c.shape === 'kubectl-debug'
          ? kubectlDebug(ns.expiring, podName, container.name)
          : sendEphemeral({
              as: 'bob',
              namespace: ns.expiring,
              pod: podName,
              container,
              shape: c.shape,
              fieldManager: c.fieldManager,
              managedFields: c.forge ? [forgedEntry(c.fieldManager || 'kubectl')] : undefined,
            }),
      );
      expect(message).toContain(c.message);
      if (c.check === 'deadline') expect(message).toContain(`DebugGrant ${ns.expiring}/bob-exp expired at`);
    });
  });

  describe('every bad request of the catalogue', () => {
    test('the catalogue is large', () => {
      expect(CATALOGUE.length + EXPIRED.length).toBeGreaterThanOrEqual(80);
    });

    test.each(CATALOGUE.map((c, i) => [c.what, i] as const))('refused: %s', async (_what, i) => {
      const c = CATALOGUE[i];
      if (!c) throw new Error('no such case');
      const namespace = ns[c.place ?? 'main'];
      const as: Requester = typeof c.as === 'string' ? c.as : { user: c.as.user.replace('{ns}', namespace), groups: c.as.groups };
      const message = await refusedAndUnchanged(namespace, c.pod, () =>
        sendEphemeral({ as, namespace, pod: c.pod, container: c.container as k8s.V1EphemeralContainer, shape: c.shape ?? 'strategic' }),
      );
      expect(message).toContain(c.message.replaceAll('{ns}', namespace));
      // The policy, or a copy of it another test installs under a release prefix (the chart's).
      if (c.check !== 'api-server') expect(message).toMatch(/ValidatingAdmissionPolicy '[a-z0-9-]*ephemeral-containers'/);
    });
  });

  test('the per-container AppArmor annotation cannot name an ephemeral container: refused at creation and on update', async () => {
    const admin = clientsFor('admin');
    const annotations = { 'container.apparmor.security.beta.kubernetes.io/dbg': 'unconfined' };
    const created = await rejection(
      admin.core.createNamespacedPod({
        namespace: ns.main,
        body: { metadata: { name: 'annotated-1', annotations }, spec: { containers: [{ name: 'app', image: DEBUG_IMAGE }] } },
      }),
    );
    expect(created.message).toContain('container not found');
    const message = await refusedAndUnchanged(ns.main, 'web-1', () =>
      admin.core.patchNamespacedPod({ namespace: ns.main, name: 'web-1', body: { metadata: { annotations } } }, mergePatch),
    );
    expect(message).toContain('may not add AppArmor annotations');
  });

  test('with an operator running again, the expired grant is revoked: RBAC refuses, the index has no entry', async () => {
    op = await startTestOperator([ns.expiring], ALL_PROFILES);
    await eventually(
      () => getGrant(ns.expiring, 'bob-exp'),
      (g) => g?.status?.phase === 'Expired',
    );
    const message = await refusedAndUnchanged(ns.expiring, 'exp-1', () => kubectlDebug(ns.expiring, 'exp-1', 'late'));
    expect(message).toMatch(/User "bob" cannot (get|patch) resource "pods/);
    const index = await readIndex(adminApi(), ns.expiring);
    expect(contentOf(index).active).toEqual([]);
  });
});
