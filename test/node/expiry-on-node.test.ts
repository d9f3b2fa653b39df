// What happens at a grant's deadline when the containers are real: the kubelet's own
// ephemeralContainerStatuses drive lingering detection, and `onExpiry: Evict` hands the pod to
// the controller-manager's ReplicaSet. (Sessions at expiry: sessions-at-expiry.test.ts.)
import * as k8s from '@kubernetes/client-node';
import { LINGERING_ANNOTATION } from '../../src/api/names.ts';
import { clientsFor, eventually, freshNamespace, kubectl, statusCode } from '../support/cluster.ts';
import { getGrant } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { activeGrant, describeOnNode, podSpec, runningPod, testNode } from '../support/node.ts';

/** Each test waits out a real ttl (20 s) after pods start on a shared, loaded machine. */
const SLOW = 150_000;

describeOnNode('grant expiry on a real node', () => {
  let ns: string;
  let op: TestOperator;
  const debugImage = (): string => testNode().images.debugNonRoot.ref;
  const grant = (name: string, labels: Record<string, string>, extra: Record<string, unknown>) => activeGrant(ns, name, labels, extra);
  /**
   * A debug container that outlives the grant: one a grantee adds ends at the deadline by the
   * API server's wrapper (sessions-at-expiry.test.ts), so this one comes from the break-glass
   * identity (the admin, system:masters), which admission neither refuses nor wraps. When the
   * grant ends it runs on a pod no grant covers: lingering, as any container outside a grant.
   */
  const addDebugContainer = async (pod: string, container: string): Promise<void> => {
    const out = await kubectl('admin', [
      '-n',
      ns,
      'debug',
      pod,
      `--image=${debugImage()}`,
      '--profile=restricted',
      `--container=${container}`,
      '--',
      'sleep',
      'inf',
    ]);
    expect(out.stderr).not.toMatch(/forbidden|denied/i);
    expect(out.code).toBe(0);
    await eventually(
      () => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: pod }),
      (p) => p.status?.ephemeralContainerStatuses?.some((s) => s.name === container && s.state?.running) === true,
      60_000,
      250,
    );
  };

  beforeAll(async () => {
    ns = await freshNamespace('expiry');
    op = await startTestOperator([ns]);
  });
  afterAll(async () => {
    await op.stop();
  });

  test(
    "a debug container still running at expiry is flagged from the kubelet's own status",
    async () => {
      await runningPod(ns, 'web-1', { app: 'web' });
      await grant('linger', { app: 'web' }, { ttl: '20s' });
      await addDebugContainer('web-1', 'dbg');
      const flagged = await eventually(
        () => getGrant(ns, 'linger'),
        (g) => (g?.status?.lingering?.length ?? 0) > 0,
        60_000,
        250,
      );
      expect(flagged?.status?.phase).toBe('Expired');
      expect(flagged?.status?.lingering).toEqual([{ pod: 'web-1', container: 'dbg', image: debugImage() }]);
      const pod = await eventually(
        () => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'web-1' }),
        (p) => p.metadata?.annotations?.[LINGERING_ANNOTATION] !== undefined,
      );
      expect(pod.metadata?.annotations?.[LINGERING_ANNOTATION]).toBe(`dbg=${debugImage()}`);
    },
    SLOW,
  );

  test(
    "onExpiry Evict: the ReplicaSet's pod is evicted and the controller-manager replaces it",
    async () => {
      const rs = await clientsFor('admin')
        .kc.makeApiClient(k8s.AppsV1Api)
        .createNamespacedReplicaSet({
          namespace: ns,
          body: {
            metadata: { name: 'cart' },
            spec: { replicas: 1, selector: { matchLabels: { app: 'cart' } }, template: { metadata: { labels: { app: 'cart' } }, spec: podSpec() } },
          },
        });
      const core = clientsFor('admin').core;
      const first = await eventually(
        () => core.listNamespacedPod({ namespace: ns, labelSelector: 'app=cart' }),
        (l) => l.items.length === 1 && l.items[0]?.status?.phase === 'Running',
        90_000,
        250,
      );
      const victim = first.items[0]?.metadata?.name ?? '';
      expect(first.items[0]?.metadata?.ownerReferences?.[0]?.uid).toBe(rs.metadata?.uid);
      await grant('evict', { app: 'cart' }, { ttl: '20s', onExpiry: 'Evict' });
      await addDebugContainer(victim, 'dbg');

      const replaced = await eventually(
        () => core.listNamespacedPod({ namespace: ns, labelSelector: 'app=cart' }),
        (l) => l.items.some((p) => p.metadata?.name !== victim && p.status?.phase === 'Running'),
        90_000,
        250,
      );
      const replacement = replaced.items.find((p) => p.metadata?.name !== victim);
      expect(replacement?.spec?.ephemeralContainers ?? []).toEqual([]);
      await eventually(
        async () =>
          core.readNamespacedPod({ namespace: ns, name: victim }).then(
            () => 200,
            (err: unknown) => statusCode(err),
          ),
        (code) => code === 404,
        60_000,
        250,
      );
      expect(
        op
          .audits()
          .filter((a) => a.event === 'pod.evicted')
          .map((a) => a.pods),
      ).toContainEqual([victim]);
    },
    SLOW,
  );
});
