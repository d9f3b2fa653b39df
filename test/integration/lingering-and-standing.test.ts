// After expiry: ephemeral containers the kubelet still reports running are flagged (status,
// Events, pod annotation, metric), evicted when asked and owned by a controller; and
// access that survives through other bindings is named, not hidden.
import { LINGERING_ANNOTATION, SESSIONS_ANNOTATION } from '../../src/api/names.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { eachFinishedPodPage } from '../../src/kube/pods.ts';
import { canI, clientsFor, createPod, eventually, freshNamespace, kubeConfigFor, writePodStatus } from '../support/cluster.ts';
import { createGrant, getGrant, grantSpec } from '../support/grants.ts';
import { addEphemeralContainer, debugContainer, kubeletState, second } from '../support/debug-containers.ts';
import { DEBUG_IMAGE, startTestOperator, type TestOperator } from '../support/operator.ts';

/** As the admin: a cluster's break-glass identity, outside any grant. */
async function addDebugContainer(ns: string, pod: string, name: string): Promise<void> {
  await addEphemeralContainer('admin', ns, pod, debugContainer(name, DEBUG_IMAGE, 'restricted'));
}

/** What the kubelet would report once the debug container started. */
async function kubeletReportsRunning(ns: string, pod: string, name: string): Promise<void> {
  await writePodStatus(ns, pod, {
    phase: 'Running',
    ephemeralContainerStatuses: [{ name, image: DEBUG_IMAGE, imageID: '', ready: false, restartCount: 0, state: { running: { startedAt: new Date() } } }],
  });
}

describe('lingering ephemeral containers and standing access', () => {
  let ns: string;
  let op: TestOperator;
  beforeAll(async () => {
    ns = await freshNamespace('linger');
    await createPod(ns, 'bare-1', { app: 'shop' });
    await clientsFor('admin').core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: {
          name: 'owned-1',
          labels: { app: 'cart' },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'cart-7d9', uid: '3f1c2b9a-0000-4000-8000-000000000001', controller: true }],
        },
        spec: { containers: [{ name: 'app', image: DEBUG_IMAGE }] },
      },
    });
    op = await startTestOperator([ns]);
  });
  afterAll(async () => {
    await op.stop();
  });

  test('a debug container still running after expiry is recorded on grant and pod', async () => {
    await createGrant(ns, 'shop-debug', grantSpec({ ttl: '3s', podSelector: { matchLabels: { app: 'shop' } } }));
    await eventually(
      () => getGrant(ns, 'shop-debug'),
      (g) => g?.status?.phase === 'Active' && g.status.pods?.length === 1,
    );
    await addDebugContainer(ns, 'bare-1', 'debugger-1');
    await kubeletReportsRunning(ns, 'bare-1', 'debugger-1');
    // Covered by an active grant: once the operator has looked at the running container, it is not flagged.
    const looked = await eventually(
      () => Promise.resolve(op.lines.find((l) => l.msg === 'lingering checked' && l.name === 'bare-1' && l.running === 1)),
      Boolean,
    );
    expect(looked?.lingering).toBe(0);
    const before = await clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'bare-1' });
    expect(before.metadata?.annotations?.[LINGERING_ANNOTATION]).toBeUndefined();

    const expired = await eventually(
      () => getGrant(ns, 'shop-debug'),
      (g) => (g?.status?.lingering?.length ?? 0) > 0,
    );
    expect(expired?.status?.phase).toBe('Expired');
    expect(expired?.status?.lingering).toEqual([{ pod: 'bare-1', container: 'debugger-1', image: DEBUG_IMAGE }]);
    const pod = await eventually(
      () => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'bare-1' }),
      (p) => p.metadata?.annotations?.[LINGERING_ANNOTATION] !== undefined,
    );
    expect(pod.metadata?.annotations?.[LINGERING_ANNOTATION]).toBe(`debugger-1=${DEBUG_IMAGE}`);

    const events = await clientsFor('admin').core.listNamespacedEvent({ namespace: ns });
    const lingering = events.items.filter((e) => e.reason === 'LingeringEphemeralContainer');
    expect(lingering.map((e) => `${e.involvedObject.kind ?? ''}/${e.involvedObject.name ?? ''}`).sort()).toEqual(['DebugGrant/shop-debug', 'Pod/bare-1']);
    expect(await op.operator.metrics.registry.getSingleMetricAsString('debuggrant_lingering_ephemeral_containers')).toMatch(/ 1$/m);

    // The container stops: the pod flag goes away.
    await writePodStatus(ns, 'bare-1', {
      ephemeralContainerStatuses: [
        { name: 'debugger-1', image: DEBUG_IMAGE, imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0 } } },
      ],
    });
    await eventually(
      () => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'bare-1' }),
      (p) => p.metadata?.annotations?.[LINGERING_ANNOTATION] === undefined,
    );
  });

  test('a debug container its deadline wrapper did not end is told 2 s after the deadline: Warning Event and metric', async () => {
    await createPod(ns, 'late-1', { app: 'late' });
    await createGrant(ns, 'late-debug', grantSpec({ ttl: '4s', podSelector: { matchLabels: { app: 'late' } } }));
    const active = await eventually(
      () => getGrant(ns, 'late-debug'),
      (g) => g?.status?.phase === 'Active' && g.status.pods?.length === 1,
    );
    // As the grantee: the API server wraps its command with the deadline (session-deadline.yaml).
    const pod = await addEphemeralContainer('alice', ns, 'late-1', debugContainer('late-dbg', DEBUG_IMAGE, 'restricted', { command: ['sleep', 'inf'] }));
    expect(pod.spec?.ephemeralContainers?.[0]?.command?.[3]).toBe('debuggrant-deadline');
    // A kubelet that never ends it (as if its wrapper had been killed from inside).
    await kubeletReportsRunning(ns, 'late-1', 'late-dbg');
    const deadline = Math.floor(Date.parse(active?.status?.expiresAt ?? '') / 1000) * 1000;
    const overdue = async () =>
      (await clientsFor('admin').core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.reason === 'DebugContainerPastDeadline');
    const [event] = await eventually(overdue, (es) => es.length > 0, 20_000, 250);
    expect(event?.type).toBe('Warning');
    expect(`${event?.involvedObject.kind ?? ''}/${event?.involvedObject.name ?? ''}`).toBe('Pod/late-1');
    expect(event?.message).toContain(`late-dbg (${DEBUG_IMAGE}, deadline ${new Date(deadline).toISOString()}`);
    // firstTimestamp has whole seconds.
    expect(new Date(event?.firstTimestamp ?? 0).getTime()).toBeGreaterThanOrEqual(deadline + 2_000 - 1_000);
    const metric = () => op.operator.metrics.registry.getSingleMetricAsString('debuggrant_debug_containers_past_deadline');
    expect(await metric()).toMatch(/ 1$/m);
    // It stops at last: the metric goes back to 0.
    await writePodStatus(ns, 'late-1', {
      ephemeralContainerStatuses: [
        { name: 'late-dbg', image: DEBUG_IMAGE, imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 137 } } },
      ],
    });
    await eventually(metric, (m) => / 0$/m.test(m), 15_000, 250);
  }, 40_000);

  test('an ephemeral container added with no grant at all is flagged', async () => {
    await createPod(ns, 'lonely-1', { app: 'lonely' });
    await addDebugContainer(ns, 'lonely-1', 'sneaky');
    await kubeletReportsRunning(ns, 'lonely-1', 'sneaky');
    const pod = await eventually(
      () => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'lonely-1' }),
      (p) => p.metadata?.annotations?.[LINGERING_ANNOTATION] !== undefined,
    );
    expect(pod.metadata?.annotations?.[LINGERING_ANNOTATION]).toBe(`sneaky=${DEBUG_IMAGE}`);
  });

  test("a flagged pod that finishes loses its flag: it leaves the operator's pod cache, not the cluster", async () => {
    await createPod(ns, 'done-1', { app: 'done' });
    await addDebugContainer(ns, 'done-1', 'sneaky');
    await kubeletReportsRunning(ns, 'done-1', 'sneaky');
    const admin = clientsFor('admin');
    await eventually(
      () => admin.core.readNamespacedPod({ namespace: ns, name: 'done-1' }),
      (p) => p.metadata?.annotations?.[LINGERING_ANNOTATION] === `sneaky=${DEBUG_IMAGE}`,
    );
    const started = second(Date.now());
    await writePodStatus(ns, 'done-1', {
      phase: 'Succeeded',
      ephemeralContainerStatuses: [kubeletState('sneaky', started, { at: second(Date.now()), exitCode: 0 })],
    });
    // Before: the informer reported it deleted, the lingering reconcile found no pod and left the flag for good.
    const pod = await eventually(
      () => admin.core.readNamespacedPod({ namespace: ns, name: 'done-1' }),
      (p) => p.metadata?.annotations?.[LINGERING_ANNOTATION] === undefined,
    );
    expect(pod.status?.phase).toBe('Succeeded');
  });

  test('onExpiry: Evict evicts a controller-owned pod through the Eviction API', async () => {
    await createGrant(ns, 'cart-debug', grantSpec({ ttl: '3s', onExpiry: 'Evict', podSelector: { matchLabels: { app: 'cart' } } }));
    await eventually(
      () => getGrant(ns, 'cart-debug'),
      (g) => g?.status?.phase === 'Active' && g.status.pods?.length === 1,
    );
    await addDebugContainer(ns, 'owned-1', 'debugger-2');
    await kubeletReportsRunning(ns, 'owned-1', 'debugger-2');
    const g = await eventually(
      () => getGrant(ns, 'cart-debug'),
      (x) => x?.status?.lingering?.[0]?.evictedAt !== undefined,
    );
    expect(g?.status?.lingering?.[0]).toMatchObject({ pod: 'owned-1', container: 'debugger-2' });
    await eventually(
      () =>
        clientsFor('admin')
          .core.readNamespacedPod({ namespace: ns, name: 'owned-1' })
          .then(
            () => true,
            () => false,
          ),
      (exists) => !exists,
    );
    expect(op.audits().some((a) => a.event === 'pod.evicted' && a.pods.includes('owned-1'))).toBe(true);
  });

  test('access that remains through another binding is reported as StandingAccess', async () => {
    await createPod(ns, 'pay-1', { app: 'pay' });
    const admin = clientsFor('admin');
    await admin.rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'legacy-exec' }, rules: [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'] }] },
    });
    await admin.rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'legacy-exec-alice' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'legacy-exec' },
        subjects: [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }],
      },
    });
    await createGrant(ns, 'pay-exec', grantSpec({ ttl: '2s', access: ['exec'], podSelector: { matchLabels: { app: 'pay' } } }));
    const g = await eventually(
      () => getGrant(ns, 'pay-exec'),
      (x) => x?.status?.conditions?.some((c) => c.type === 'RevocationVerified') === true,
      20_000,
    );
    expect(g?.status?.phase).toBe('Expired');
    const verified = g?.status?.conditions?.find((c) => c.type === 'RevocationVerified');
    expect(verified).toMatchObject({ status: 'False', reason: 'StandingAccess' });
    expect(verified?.message).toContain('create pods/exec pay-1');
    expect(verified?.message).not.toContain('get pods pay-1');
    // The grant's own part is gone; what remains is exactly the other binding's.
    expect(await canI({ user: 'alice', namespace: ns, verb: 'get', resource: 'pods', name: 'pay-1' })).toBe(false);
    const events = await admin.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=pay-exec' });
    expect(events.items.find((e) => e.reason === 'StandingAccess')?.type).toBe('Warning');
    expect(op.audits().some((a) => a.event === 'grant.standing-access' && a.grant === `${ns}/pay-exec`)).toBe(true);
  });
});

describe('records on a pod that finished while no operator ran', () => {
  test("the next operator finds it (finished pods are not watched), takes its lingering flag off and tells its session's end", async () => {
    const ns = await freshNamespace('linger-restart');
    await createPod(ns, 'left-1', { app: 'left' });
    const admin = clientsFor('admin');
    const readPod = () => admin.core.readNamespacedPod({ namespace: ns, name: 'left-1' });
    const first = await startTestOperator([ns]);
    const started = second(Date.now());
    try {
      await addDebugContainer(ns, 'left-1', 'sneaky');
      await writePodStatus(ns, 'left-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('sneaky', started)] });
      await eventually(readPod, (p) => {
        const a = p.metadata?.annotations ?? {};
        return a[LINGERING_ANNOTATION] === `sneaky=${DEBUG_IMAGE}` && a[SESSIONS_ANNOTATION] === 'sneaky=started';
      });
    } finally {
      await first.stop();
    }
    await writePodStatus(ns, 'left-1', {
      phase: 'Succeeded',
      ephemeralContainerStatuses: [kubeletState('sneaky', started, { at: second(Date.now()), exitCode: 0 })],
    });
    // Another pod that finished with no open record: the sweep leaves it alone (no read, no write).
    await createPod(ns, 'quiet-1', { app: 'quiet' });
    await writePodStatus(ns, 'quiet-1', { phase: 'Failed' });
    const next = await startTestOperator([ns]);
    try {
      // Before: the pod never came back into the operator's sight and kept both records for good.
      const settled = await eventually(readPod, (p) => p.metadata?.annotations?.[LINGERING_ANNOTATION] === undefined);
      expect(settled.metadata?.annotations?.[SESSIONS_ANNOTATION]).toBe('sneaky=ended');
      const ended = await eventually(
        () => Promise.resolve(next.audits().filter((a) => a.event === 'session.ended' && a.pods.includes('left-1'))),
        (l) => l.length === 1,
      );
      expect(ended.map((a) => [a.reason, a.session?.container, a.session?.exitCode])).toEqual([['OutsideAnyGrant', 'sneaky', 0]]);
      const swept = next.lines.find((l) => l.msg === 'finished pods swept for records to settle');
      expect(swept?.pods).toBe(1);
      expect(next.lines.some((l) => l.msg === 'lingering checked' && l.name === 'quiet-1')).toBe(false);
    } finally {
      await next.stop();
    }
  });
});

test('finished pods are listed as metadata, by phase, a page at a time (src/kube/pods.ts)', async () => {
  const ns = await freshNamespace('finished-pages');
  for (const [name, phase] of [
    ['ok-1', 'Succeeded'],
    ['ok-2', 'Succeeded'],
    ['ok-3', 'Succeeded'],
    ['bad-1', 'Failed'],
    ['running-1', 'Running'],
    ['pending-1', 'Pending'],
  ] as const) {
    await createPod(ns, name, { app: 'x' });
    await writePodStatus(ns, name, { phase });
  }
  const pages: string[][] = [];
  await eachFinishedPodPage(fromKubeConfig(kubeConfigFor('admin')), ns, (pods) => pages.push(pods.map((p) => p.metadata?.name ?? '')), 2);
  expect(pages).toEqual([['ok-1', 'ok-2'], ['ok-3'], ['bad-1']]);
});
