// While a grant is active the Role follows the pods (added, relabelled, deleted), and
// whatever is edited or deleted by hand is put back. Answers come from the authorizer.
import { INDEX_NAME, INDEX_PLURAL, rbacName } from '../../src/api/names.ts';
import { GROUP, VERSION } from '../../src/api/schema.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { readIndex } from '../../src/kube/grant-index.ts';
import { canI, clientsFor, createPod, eventually, freshNamespace, kubeConfigFor, mergePatch } from '../support/cluster.ts';
import { createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const canDebug = (ns: string, pod: string) =>
  canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: pod });

describe('pods that come and go, and hand edits', () => {
  let ns: string;
  /** Served, with a pod and no grant: its index stays empty. */
  let quiet: string;
  let op: TestOperator;
  beforeAll(async () => {
    ns = await freshNamespace('pods');
    quiet = await freshNamespace('pods-quiet');
    await createPod(ns, 'web-1', { app: 'web' });
    await createPod(quiet, 'web-1', { app: 'web' });
    op = await startTestOperator([ns, quiet]);
    await createGrant(ns, 'web-debug', grantSpec({ podSelector: { matchLabels: { app: 'web' } } }));
    await eventually(() => getGrant(ns, 'web-debug'), isReady);
  });
  afterAll(async () => {
    await op.stop();
  });

  test('a pod that appears is added, one that goes or stops matching is removed', async () => {
    expect(await canDebug(ns, 'web-2')).toBe(false);
    await createPod(ns, 'web-2', { app: 'web' });
    await eventually(() => canDebug(ns, 'web-2'), Boolean);
    await eventually(
      () => getGrant(ns, 'web-debug'),
      (g) => g?.status?.pods?.join() === 'web-1,web-2',
    );

    await clientsFor('admin').core.patchNamespacedPod({ namespace: ns, name: 'web-2', body: { metadata: { labels: { app: 'other' } } } }, mergePatch);
    await eventually(
      () => canDebug(ns, 'web-2'),
      (v) => !v,
    );

    await clientsFor('admin').core.deleteNamespacedPod({ namespace: ns, name: 'web-1', gracePeriodSeconds: 0 });
    await eventually(
      () => canDebug(ns, 'web-1'),
      (v) => !v,
    );
    // No pod left: the Role must not survive with an empty resourceNames (that would mean every pod).
    const g = await eventually(
      () => getGrant(ns, 'web-debug'),
      (x) => x?.status?.pods?.length === 0,
    );
    expect(g?.status?.phase).toBe('Active');
    expect(g?.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'NoMatchingPods' });
    await eventually(
      async () => (await clientsFor('admin').rbac.listNamespacedRole({ namespace: ns })).items.length,
      (n) => n === 0,
    );
    expect(await canDebug(ns, 'web-3')).toBe(false);

    await createPod(ns, 'web-3', { app: 'web' });
    await eventually(() => canDebug(ns, 'web-3'), Boolean);
    expect(op.audits().some((a) => a.event === 'grant.pods-changed')).toBe(true);
  });

  test('a deleted RoleBinding, a widened Role and a re-pointed subject are put back', async () => {
    const admin = clientsFor('admin');
    const name = rbacName('web-debug');
    await admin.rbac.deleteNamespacedRoleBinding({ namespace: ns, name });
    await eventually(
      () =>
        admin.rbac.readNamespacedRoleBinding({ namespace: ns, name }).then(
          () => true,
          () => false,
        ),
      Boolean,
    );

    // Someone widens the Role to every pod and adds delete.
    await admin.rbac.replaceNamespacedRole({
      namespace: ns,
      name,
      body: {
        metadata: { name, namespace: ns, labels: (await admin.rbac.readNamespacedRole({ namespace: ns, name })).metadata?.labels },
        rules: [{ apiGroups: [''], resources: ['pods', 'pods/ephemeralcontainers'], verbs: ['*'] }],
      },
    });
    await eventually(
      () => admin.rbac.readNamespacedRole({ namespace: ns, name }),
      (r) =>
        (r.rules ?? []).every(
          (rule) =>
            !rule.verbs.includes('*') &&
            (rule.resourceNames ?? []).join() === ((rule.resources ?? []).every((res) => res.startsWith('pods')) ? 'web-3' : 'web-debug'),
        ),
    );
    expect(await canI({ user: 'alice', namespace: ns, verb: 'delete', resource: 'pods', name: 'web-3' })).toBe(false);

    // Someone adds bob to the binding.
    const binding = await admin.rbac.readNamespacedRoleBinding({ namespace: ns, name });
    await admin.rbac.replaceNamespacedRoleBinding({
      namespace: ns,
      name,
      body: { ...binding, subjects: [...(binding.subjects ?? []), { kind: 'User', name: 'bob', apiGroup: 'rbac.authorization.k8s.io' }] },
    });
    await eventually(
      () => admin.rbac.readNamespacedRoleBinding({ namespace: ns, name }),
      (b) => (b.subjects ?? []).map((s) => s.name).join() === 'alice',
    );
    expect(await canI({ user: 'bob', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'web-3' })).toBe(false);
  });

  test('an empty index deleted by hand is created again (the admission policy needs it to give its own refusal)', async () => {
    const api = fromKubeConfig(kubeConfigFor('admin'));
    const first = (
      await eventually(
        () => readIndex(api, quiet),
        (i) => i !== undefined,
      )
    )?.metadata.uid;
    await api.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: INDEX_PLURAL, namespace: quiet, name: INDEX_NAME });
    const again = await eventually(
      () => readIndex(api, quiet),
      (i) => i !== undefined && i.metadata.uid !== first,
    );
    expect(again?.active ?? []).toEqual([]);
  });
});
