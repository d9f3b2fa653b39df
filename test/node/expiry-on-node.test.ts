// What happens at a grant's deadline when the containers are real: the kubelet's own
// ephemeralContainerStatuses drive lingering detection, `onExpiry: Evict` hands the pod to the
// controller-manager's ReplicaSet, an exec stream opened before expiry is measured, and the
// deadline wrapper of `kubectl debuggrant debug` ends the session on time.
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { LINGERING_ANNOTATION } from '../../src/api/names.ts';
import { clientsFor, eventually, freshNamespace, kubectl, plane, statusCode } from '../support/cluster.ts';
import { createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { describeOnNode, kubectlSession, podSpec, runningPod, session, testNode } from '../support/node.ts';

/** Each test waits out a real ttl (20 s) after pods start on a shared, loaded machine. */
const SLOW = 150_000;
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

describeOnNode('grant expiry on a real node', () => {
  let ns: string;
  let op: TestOperator;
  const debugImage = (): string => testNode().images.debugNonRoot.ref;
  const grant = async (name: string, labels: Record<string, string>, extra: Record<string, unknown>): Promise<{ expiresAt: number }> => {
    await createGrant(ns, name, grantSpec({ podSelector: { matchLabels: labels }, image: debugImage(), profile: 'restricted', ...extra }));
    const ready = await eventually(() => getGrant(ns, name), isReady, 30_000);
    return { expiresAt: Date.parse(ready?.status?.expiresAt ?? '') };
  };
  /** `kubectl debug` as alice, not attached: the debug container keeps running. */
  const addDebugContainer = async (pod: string, container: string): Promise<void> => {
    const out = await kubectl('alice', ['-n', ns, 'debug', pod, `--image=${debugImage()}`, '--profile=restricted', `--container=${container}`, '--', 'sleep', 'inf']);
    expect(out.stderr).not.toMatch(/forbidden|denied/i);
    expect(out.code).toBe(0);
    await eventually(() => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: pod }),
      (p) => p.status?.ephemeralContainerStatuses?.some((s) => s.name === container && s.state?.running) === true, 60_000, 250);
  };

  beforeAll(async () => {
    ns = await freshNamespace('expiry');
    op = await startTestOperator([ns]);
  });
  afterAll(async () => { await op.stop(); });

  test('a debug container still running at expiry is flagged from the kubelet\'s own status', async () => {
    await runningPod(ns, 'web-1', { app: 'web' });
    await grant('linger', { app: 'web' }, { ttl: '20s' });
    await addDebugContainer('web-1', 'dbg');
    const flagged = await eventually(() => getGrant(ns, 'linger'), (g) => (g?.status?.lingering?.length ?? 0) > 0, 60_000, 250);
    expect(flagged?.status?.phase).toBe('Expired');
    expect(flagged?.status?.lingering).toEqual([{ pod: 'web-1', container: 'dbg', image: debugImage() }]);
    const pod = await eventually(() => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'web-1' }),
      (p) => p.metadata?.annotations?.[LINGERING_ANNOTATION] !== undefined);
    expect(pod.metadata?.annotations?.[LINGERING_ANNOTATION]).toBe(`dbg=${debugImage()}`);
  }, SLOW);

  test('onExpiry Evict: the ReplicaSet\'s pod is evicted and the controller-manager replaces it', async () => {
    const rs = await clientsFor('admin').kc.makeApiClient(k8s.AppsV1Api).createNamespacedReplicaSet({
      namespace: ns,
      body: {
        metadata: { name: 'cart' },
        spec: { replicas: 1, selector: { matchLabels: { app: 'cart' } }, template: { metadata: { labels: { app: 'cart' } }, spec: podSpec() } },
      },
    });
    const core = clientsFor('admin').core;
    const first = await eventually(() => core.listNamespacedPod({ namespace: ns, labelSelector: 'app=cart' }),
      (l) => l.items.length === 1 && l.items[0]?.status?.phase === 'Running', 90_000, 250);
    const victim = first.items[0]?.metadata?.name ?? '';
    expect(first.items[0]?.metadata?.ownerReferences?.[0]?.uid).toBe(rs.metadata?.uid);
    await grant('evict', { app: 'cart' }, { ttl: '20s', onExpiry: 'Evict' });
    await addDebugContainer(victim, 'dbg');

    const replaced = await eventually(() => core.listNamespacedPod({ namespace: ns, labelSelector: 'app=cart' }),
      (l) => l.items.some((p) => p.metadata?.name !== victim && p.status?.phase === 'Running'), 90_000, 250);
    const replacement = replaced.items.find((p) => p.metadata?.name !== victim);
    expect(replacement?.spec?.ephemeralContainers ?? []).toEqual([]);
    await eventually(async () => core.readNamespacedPod({ namespace: ns, name: victim }).then(() => 200, (err: unknown) => statusCode(err)), (code) => code === 404, 60_000, 250);
    expect(op.audits().filter((a) => a.event === 'pod.evicted').map((a) => a.pods)).toContainEqual([victim]);
  }, SLOW);

  test('an exec stream opened before expiry outlives the grant (measured); a new one is refused', async () => {
    await runningPod(ns, 'api-1', { app: 'api' });
    const { expiresAt } = await grant('stream', { app: 'api' }, { ttl: '15s', access: ['exec'] });
    const session = kubectlSession('alice', ['-n', ns, 'exec', '-i', 'api-1', '--', 'sh']);
    try {
      session.child.stdin.write('echo before-expiry\n');
      await session.waitFor('before-expiry');
      await eventually(() => getGrant(ns, 'stream'), (g) => g?.status?.phase === 'Expired', 60_000, 250);
      const refused = await kubectl('alice', ['-n', ns, 'exec', 'api-1', '--', 'true']);
      expect(refused.stderr).toMatch(/forbidden/i);
      // The open stream is not re-authorized: it answers for as long as we keep asking.
      let answered = 0;
      for (let i = 0; i < 10; i++) {
        session.child.stdin.write(`echo after-expiry-${String(i)}\n`);
        await session.waitFor(`after-expiry-${String(i)}`, 10_000);
        answered = Date.now() - expiresAt;
        await new Promise((r) => setTimeout(r, 1000));
      }
      process.stderr.write(`[measure] exec stream opened before expiry still answered ${String(answered)} ms after the deadline\n`);
      expect(answered).toBeGreaterThan(5_000);
    } finally {
      await session.stop();
    }
  }, SLOW);

  test('kubectl debuggrant debug: the session ends within 2 s of the grant\'s deadline', async () => {
    await runningPod(ns, 'pay-1', { app: 'pay' });
    const { expiresAt } = await grant('wrapped', { app: 'pay' }, { ttl: '20s' });
    const p = plane();
    // `kubectl debuggrant` from source, in a pseudo-terminal as a person runs it (attached, -it).
    const debugging = session([process.execPath, CLI, 'debug', 'pay-1', '-n', ns, '--kubeconfig', p.kubeconfig, '--context', 'alice',
      '--kubectl', p.kubectl, '--', '--container=wrapped', '--', 'sh', '-c', 'while true; do echo alive; sleep 1; done'], { tty: true });
    let endedAt: number;
    try {
      await debugging.waitFor('alive');
      endedAt = await debugging.exited.then(() => Date.now());
    } finally {
      await debugging.stop();
    }
    process.stderr.write(`[measure] debug session ended ${String(endedAt - expiresAt)} ms after the grant's deadline\n`);
    expect(Math.abs(endedAt - expiresAt)).toBeLessThanOrEqual(2_000);
    // The container itself ended (killed by the wrapper), not just kubectl's connection.
    const pod = await eventually(() => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'pay-1' }),
      (p) => p.status?.ephemeralContainerStatuses?.find((s) => s.name === 'wrapped')?.state?.terminated !== undefined, 30_000, 250);
    expect(pod.status?.ephemeralContainerStatuses?.find((s) => s.name === 'wrapped')?.state?.terminated?.exitCode).toBe(137);
  }, SLOW);
});
