import { contentDigest } from '../../src/api/equal.ts';
import { cachedGrant, cachedIndex, cachedPod, cachedPodMetadata, cachedRole, cachedRoleBinding, sameApartFromVersion } from '../../src/kube/cached.ts';
import { StringPool, ValuePool, shareVocabulary, vocabulary } from '../../src/kube/shared-strings.ts';
import { POD_FIELDS, fieldPaths, realisticPodSpec, runningStatus } from '../support/pods.ts';

const IMAGE = `registry.example.com/shop/checkout@sha256:${'d'.repeat(64)}`;

/** A pod as the API server sends it: everything a cluster fills in, plus a debug container. */
function wirePod(): unknown {
  const pod = JSON.parse(JSON.stringify({ ...realisticPodSpec('checkout-1', { app: 'checkout' }, IMAGE), status: runningStatus(7, IMAGE) })) as Record<
    string,
    Record<string, unknown>
  >;
  Object.assign(pod.metadata ?? {}, {
    namespace: 'shop',
    uid: 'u-1',
    resourceVersion: '42',
    creationTimestamp: '2026-11-20T08:00:00Z',
    generation: 1,
    deletionTimestamp: '2026-11-20T09:00:00Z',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7c9f8d6b5', uid: 'rs-1', controller: true, blockOwnerDeletion: true }],
    managedFields: [{ manager: 'kubelet', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': {} } }],
  });
  (pod.metadata?.annotations as Record<string, string>)['debuggrant.dev/lingering'] = 'debugger=busybox';
  Object.assign(pod.spec ?? {}, {
    hostPID: true,
    ephemeralContainers: [
      {
        name: 'debugger',
        image: 'busybox',
        targetContainerName: 'app',
        stdin: true,
        tty: true,
        securityContext: { privileged: false },
        env: [{ name: 'X', value: 'y' }],
      },
    ],
  });
  Object.assign(pod.status ?? {}, {
    ephemeralContainerStatuses: [
      {
        name: 'debugger',
        image: 'busybox',
        imageID: 'sha256:x',
        containerID: 'containerd://y',
        ready: false,
        restartCount: 0,
        state: { running: { startedAt: '2026-11-20T08:30:00Z' } },
        lastState: {},
      },
    ],
  });
  return pod;
}

describe('cached objects keep only what the operator reads', () => {
  test('a pod keeps identity, labels, our annotations, owners, host flags and ephemeral containers; nothing else', () => {
    const raw = wirePod();
    const pod = cachedPod(raw);
    const outside = fieldPaths(pod).filter((p) => !POD_FIELDS.some((re) => re.test(p)));
    expect(outside).toEqual([]);
    expect(pod).toEqual({
      metadata: {
        name: 'checkout-1',
        namespace: 'shop',
        uid: 'u-1',
        resourceVersion: '42',
        deletionTimestamp: '2026-11-20T09:00:00Z',
        generation: 1,
        labels: { app: 'checkout', 'pod-template-hash': '7c9f8d6b5', 'app.kubernetes.io/version': '1.24.3' },
        annotations: { 'debuggrant.dev/lingering': 'debugger=busybox' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7c9f8d6b5', uid: 'rs-1', controller: true }],
      },
      spec: {
        hostPID: true,
        ephemeralContainers: [{ name: 'debugger', image: 'busybox', targetContainerName: 'app', securityContext: { privileged: false } }],
      },
      status: {
        phase: 'Running',
        ephemeralContainerStatuses: [{ name: 'debugger', image: 'busybox', state: { running: { startedAt: '2026-11-20T08:30:00Z' } } }],
      },
    });
    // The point of it: a realistic pod shrinks by an order of magnitude.
    expect(JSON.stringify(pod).length * 8).toBeLessThan(JSON.stringify(raw).length);
  });

  test('a plain pod has no spec at all and only its phase in status', () => {
    const pod = cachedPod({
      metadata: { name: 'p', namespace: 'n', resourceVersion: '1' },
      spec: { containers: [{ name: 'c', image: 'i' }] },
      status: { phase: 'Pending' },
    });
    expect(pod).toEqual({ metadata: { name: 'p', namespace: 'n', resourceVersion: '1' }, status: { phase: 'Pending' } });
  });

  test('malformed input never throws: missing parts stay missing', () => {
    expect(cachedPod(null)).toEqual({ metadata: {} });
    expect(cachedPod({ metadata: { labels: { ok: 'y', bad: 3 } }, spec: { ephemeralContainers: 'x' } })).toEqual({ metadata: { labels: { ok: 'y' } } });
  });

  test('a grant keeps spec and status whole, and drops managedFields, labels and foreign annotations', () => {
    const spec = { subject: { kind: 'User', name: 'alice' }, podSelector: { matchLabels: { app: 'web' } } };
    const status = { phase: 'Active', pods: ['web-1'] };
    const grant = cachedGrant({
      apiVersion: 'debuggrant.dev/v1alpha1',
      kind: 'DebugGrant',
      spec,
      status,
      metadata: {
        name: 'g',
        namespace: 'shop',
        uid: 'u',
        resourceVersion: '9',
        generation: 2,
        creationTimestamp: '2026-11-20T08:00:00Z',
        finalizers: ['debuggrant.dev/revoke'],
        labels: { team: 'x' },
        managedFields: [{ manager: 'argocd' }],
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ spec }), 'debuggrant.dev/revoke': 'bob: done' },
      },
    });
    expect(grant).toEqual({
      apiVersion: 'debuggrant.dev/v1alpha1',
      kind: 'DebugGrant',
      spec,
      status,
      metadata: {
        name: 'g',
        namespace: 'shop',
        uid: 'u',
        resourceVersion: '9',
        generation: 2,
        creationTimestamp: '2026-11-20T08:00:00Z',
        finalizers: ['debuggrant.dev/revoke'],
        annotations: { 'debuggrant.dev/revoke': 'bob: done' },
      },
    });
  });

  test('Roles, RoleBindings and indexes keep their content, identity and (RBAC) owner only', () => {
    const owner = { apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrant', name: 'g', uid: 'grant-uid', controller: true };
    const metadata = {
      name: 'debuggrant-g',
      namespace: 'shop',
      uid: 'u',
      resourceVersion: '3',
      labels: { 'debuggrant.dev/grant': 'g' },
      managedFields: [{}],
      ownerReferences: [{ ...owner, blockOwnerDeletion: true }],
      creationTimestamp: 'x',
    };
    const kept = { name: 'debuggrant-g', namespace: 'shop', uid: 'u', resourceVersion: '3', labels: { 'debuggrant.dev/grant': 'g' }, ownerReferences: [owner] };
    const rules = [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'], resourceNames: ['web-1'] }];
    // A Role keeps a digest of its rules (all the operator does with them is compare).
    expect(cachedRole({ metadata, rules })).toEqual({ metadata: kept, rulesDigest: contentDigest(rules) });
    expect(JSON.stringify(cachedRole({ metadata, rules }))).not.toContain('pods/exec');
    const reordered = rules.map((r) => ({ verbs: r.verbs, resourceNames: r.resourceNames, resources: r.resources, apiGroups: r.apiGroups }));
    expect(cachedRole({ metadata, rules: reordered }).rulesDigest).toBe(cachedRole({ metadata, rules }).rulesDigest);
    expect(cachedRole({ metadata, rules: [{ ...rules[0], verbs: ['*'] }] }).rulesDigest).not.toBe(cachedRole({ metadata, rules }).rulesDigest);
    const roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'debuggrant-g' };
    const subjects = [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }];
    expect(cachedRoleBinding({ metadata, roleRef, subjects })).toEqual({ metadata: kept, roleRef, subjects });
    const active = [{ grant: 'g', expiresAt: '2026-11-20T10:00:00Z' }];
    expect(cachedIndex({ apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrantIndex', metadata, active, ended: [] })).toEqual({
      apiVersion: 'debuggrant.dev/v1alpha1',
      kind: 'DebugGrantIndex',
      metadata: { name: 'debuggrant-g', namespace: 'shop', uid: 'u', resourceVersion: '3' },
      active,
      ended: [],
    });
  });
});

describe('shared vocabulary', () => {
  test('repeating values (kinds, images, reasons, label values) go to the pool; names, uids and times do not', () => {
    const image = 'registry.example.com/debug/pool-test@sha256:' + 'a'.repeat(64);
    const grant = cachedGrant(
      JSON.parse(
        JSON.stringify({
          apiVersion: 'debuggrant.dev/v1alpha1',
          kind: 'DebugGrant',
          metadata: { name: 'pool-g', namespace: 'shop', uid: 'pool-uid', resourceVersion: '77', finalizers: ['debuggrant.dev/revoke'] },
          spec: { subject: { kind: 'User', name: 'pool-alice' }, image, profile: 'restricted', access: ['exec'] },
          status: {
            phase: 'Active',
            expiresAt: '2026-11-24T10:00:00.123Z',
            conditions: [
              { type: 'Ready', status: 'True', reason: 'PoolTestReason', message: 'pool message 1', lastTransitionTime: '2026-11-24T09:00:00.123Z' },
            ],
          },
        }),
      ) as unknown,
    );
    expect(grant.spec).toMatchObject({ image, profile: 'restricted', access: ['exec'] }); // values unchanged
    for (const v of [image, 'PoolTestReason', 'debuggrant.dev/v1alpha1', 'restricted', 'exec', 'debuggrant.dev/revoke']) expect(vocabulary.has(v)).toBe(true);
    for (const v of ['pool-g', 'pool-uid', '77', 'pool-alice', 'pool message 1', '2026-11-24T10:00:00.123Z']) expect(vocabulary.has(v)).toBe(false);
    cachedPod({
      metadata: {
        name: 'pool-p',
        labels: { app: 'pool-app' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'pool-rs', uid: 'pool-rs-uid' }],
      },
    });
    for (const v of ['pool-app', 'ReplicaSet']) expect(vocabulary.has(v)).toBe(true);
    for (const v of ['pool-p']) expect(vocabulary.has(v)).toBe(false);
  });

  test("pods of one ReplicaSet share one label set and one owner list (frozen); a pod's own name and uid are not pooled", () => {
    const pod = (name: string, hash: string) =>
      cachedPodMetadata({
        metadata: {
          name,
          namespace: 'pool-ns',
          uid: `${name}-uid`,
          labels: { app: 'pool-shop', 'pod-template-hash': hash },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `pool-shop-${hash}`, uid: `rs-${hash}`, controller: true }],
        },
      });
    const [a, b, other] = [pod('pool-pod-1', 'h1'), pod('pool-pod-2', 'h1'), pod('pool-pod-3', 'h2')];
    expect(a.metadata?.labels).toBe(b.metadata?.labels);
    expect(a.metadata?.ownerReferences).toBe(b.metadata?.ownerReferences);
    expect(other.metadata?.labels).not.toBe(a.metadata?.labels);
    expect(other.metadata?.labels).toEqual({ app: 'pool-shop', 'pod-template-hash': 'h2' });
    expect(other.metadata?.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'pool-shop-h2', uid: 'rs-h2', controller: true }]);
    expect(Object.isFrozen(a.metadata?.labels)).toBe(true);
    expect(Object.isFrozen(a.metadata?.ownerReferences)).toBe(true);
    expect(vocabulary.has('pool-ns')).toBe(true);
    for (const v of ['pool-pod-1', 'pool-pod-1-uid']) expect(vocabulary.has(v)).toBe(false);
  });

  test('lists of vocabulary are shared element by element, other lists are walked', () => {
    const pool = new StringPool();
    const entry = shareVocabulary({ active: [{ grant: 'g', image: 'img', pods: ['p'] }], access: ['exec', 'logs'] }, pool);
    expect(entry).toEqual({ active: [{ grant: 'g', image: 'img', pods: ['p'] }], access: ['exec', 'logs'] });
    expect(['img', 'exec', 'logs'].every((v) => pool.has(v))).toBe(true);
    expect(['g', 'p'].some((v) => pool.has(v))).toBe(false);
  });

  test('the pool is bounded: past its size it starts over', () => {
    const pool = new StringPool(2);
    pool.share('a');
    pool.share('b');
    pool.share('c');
    expect(pool.has('c')).toBe(true);
    expect(pool.has('a') || pool.has('b')).toBe(false);
  });
});

describe('a pod update that moves only the resourceVersion (a kubelet status write, seen as metadata)', () => {
  const base = {
    metadata: {
      name: 'web-1',
      namespace: 'shop',
      uid: 'u-1',
      resourceVersion: '10',
      generation: 1,
      labels: { app: 'shop', 'pod-template-hash': 'abc' },
      annotations: { 'debuggrant.dev/sessions': 'dbg=outside', 'other.io/x': 'dropped' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'shop-abc', uid: 'rs-1', controller: true }],
    },
  };
  const cached = (change: (m: Record<string, unknown>) => void = () => undefined) => {
    const raw = structuredClone(base) as { metadata: Record<string, unknown> };
    change(raw.metadata);
    return cachedPodMetadata(raw);
  };

  test('is the same pod apart from its version', () => {
    expect(
      sameApartFromVersion(
        cached(),
        cached((m) => (m.resourceVersion = '11')),
      ),
    ).toBe(true);
    // Annotations the cache does not keep changed nothing it holds.
    expect(
      sameApartFromVersion(
        cached(),
        cached((m) => ((m.annotations as Record<string, string>)['other.io/x'] = 'y')),
      ),
    ).toBe(true);
  });

  test.each<[string, (m: Record<string, unknown>) => void]>([
    ['a label changed', (m) => ((m.labels as Record<string, string>).app = 'other')],
    ['a label added', (m) => ((m.labels as Record<string, string>).tier = 'web')],
    ['a label removed', (m) => delete (m.labels as Record<string, string>)['pod-template-hash']],
    ['our annotation changed', (m) => ((m.annotations as Record<string, string>)['debuggrant.dev/sessions'] = 'dbg=grant:g')],
    ['the generation rose (an ephemeral container)', (m) => (m.generation = 2)],
    ['deletion started', (m) => (m.deletionTimestamp = '2026-12-05T04:00:00Z')],
    ['the owner changed', (m) => ((m.ownerReferences as { controller: boolean }[])[0] = { ...base.metadata.ownerReferences[0], controller: false } as never)],
    ['the owner went', (m) => delete m.ownerReferences],
    ['another pod of that name (uid)', (m) => (m.uid = 'u-2')],
  ])('is a change when %s', (_what, change) => {
    expect(sameApartFromVersion(cached(), cached(change))).toBe(false);
  });

  test('a whole pod (details) is never taken as unchanged', () => {
    const whole = cachedPod({ ...structuredClone(base), spec: { ephemeralContainers: [{ name: 'dbg', image: 'i' }] } });
    expect(sameApartFromVersion(whole, whole)).toBe(false);
  });
});

describe('ValuePool', () => {
  test('one copy per key, frozen; bounded: past its size it starts over', () => {
    const pool = new ValuePool<{ v: number }>(2);
    const first = pool.share('a', { v: 1 });
    expect(pool.share('a', { v: 1 })).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    pool.share('b', { v: 2 });
    pool.share('c', { v: 3 });
    expect(pool.share('a', { v: 1 })).not.toBe(first);
  });
});
