// With the controller-manager present, owner references do real work: a grant deleted while
// the operator is gone (its finalizer removed by hand, as when the operator is uninstalled)
// still takes its Role and RoleBinding with it, through the garbage collector alone.
import * as k8s from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../src/api/schema.ts';
import { FINALIZER } from '../../src/api/names.ts';
import { canI, clientsFor, eventually, freshNamespace } from '../support/cluster.ts';
import { createGrant, deleteGrant, getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { startTestOperator } from '../support/operator.ts';
import { describeOnNode, runningPod, testNode } from '../support/node.ts';

describeOnNode('garbage collection on a real cluster', () => {
  test("the garbage collector deletes a deleted grant's Role and RoleBinding without the operator", async () => {
    const ns = await freshNamespace('gc');
    await runningPod(ns, 'web-1', { app: 'web' });
    const op = await startTestOperator([ns]);
    try {
      await createGrant(
        ns,
        'orphaned',
        grantSpec({ podSelector: { matchLabels: { app: 'web' } }, image: testNode().images.debugNonRoot.ref, profile: 'restricted' }),
      );
      const active = await eventually(() => getGrant(ns, 'orphaned'), isReady, 30_000);
      expect(active?.metadata.finalizers).toContain(FINALIZER);
    } finally {
      await op.stop();
    }
    expect(await rbacFor(ns, 'orphaned')).toEqual({ role: true, binding: true });

    await clientsFor('admin').objects.patch(
      { apiVersion: `${GROUP}/${VERSION}`, kind: 'DebugGrant', metadata: { name: 'orphaned', namespace: ns, finalizers: [] } },
      undefined,
      undefined,
      undefined,
      undefined,
      k8s.PatchStrategy.MergePatch,
    );
    await deleteGrant(ns, 'orphaned');
    await eventually(
      () => rbacFor(ns, 'orphaned'),
      (r) => !r.role && !r.binding,
      60_000,
      250,
    );
    expect(await canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'web-1' })).toBe(false);
  }, 120_000);
});
