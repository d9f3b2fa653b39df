// A grant's whole life against the real API server: SubjectAccessReview answers for the
// subject (and for bob) before, during and after; the Role holds exactly the promised
// verbs on exactly the matched pods; expiry revokes on time with an Event and an audit line.
import { rbacName } from '../../src/api/names.ts';
import { canI, clientsFor, createPod, eventually, freshNamespace } from '../support/cluster.ts';
import { createGrant, getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { addEphemeralContainer, debugContainer } from '../support/debug-containers.ts';
import { DEBUG_IMAGE, startTestOperator, type TestOperator } from '../support/operator.ts';

const podAccess = (user: string, namespace: string, pod: string, subresource = 'ephemeralcontainers', verb = 'patch') =>
  canI({ user, namespace, verb, resource: 'pods', subresource, name: pod });

describe('grant lifecycle', () => {
  let ns: string;
  let op: TestOperator;
  beforeAll(async () => {
    ns = await freshNamespace('life');
    await createPod(ns, 'checkout-1', { app: 'checkout' });
    await createPod(ns, 'checkout-2', { app: 'checkout' });
    await createPod(ns, 'payments-1', { app: 'payments' });
    op = await startTestOperator([ns]);
  });
  afterAll(async () => {
    await op.stop();
  });

  test('grants exactly what access asks for, on exactly the matched pods, until the ttl ends', async () => {
    expect(await podAccess('alice', ns, 'checkout-1')).toBe(false);
    const created = await createGrant(ns, 'inc-1', grantSpec({ ttl: '10s', access: ['debug', 'exec'] }));
    const createdAt = Date.parse(created.metadata.creationTimestamp as unknown as string);

    const active = await eventually(() => getGrant(ns, 'inc-1'), isReady);
    expect(active?.status?.phase).toBe('Active');
    expect(active?.status?.pods).toEqual(['checkout-1', 'checkout-2']);
    expect(active?.status?.observedGeneration).toBe(active?.metadata.generation);
    const expiresAt = Date.parse(active?.status?.expiresAt ?? '');
    expect(expiresAt - Date.parse(active?.status?.activatedAt ?? '')).toBe(10_000);

    // The authorizer, not our bookkeeping: alice can debug and exec on the matched pods only.
    for (const pod of ['checkout-1', 'checkout-2']) {
      expect(await podAccess('alice', ns, pod)).toBe(true);
      expect(await podAccess('alice', ns, pod, 'exec', 'create')).toBe(true);
      expect(await podAccess('alice', ns, pod, 'exec', 'get')).toBe(true);
      expect(await podAccess('alice', ns, pod, 'attach', 'create')).toBe(true);
      expect(await podAccess('alice', ns, pod, 'portforward', 'create')).toBe(false);
      expect(await podAccess('alice', ns, pod, '', 'delete')).toBe(false);
      expect(await podAccess('bob', ns, pod)).toBe(false);
    }
    expect(await podAccess('alice', ns, 'payments-1')).toBe(false);
    expect(await canI({ user: 'alice', namespace: ns, verb: 'list', resource: 'pods' })).toBe(false);

    const role = await clientsFor('admin').rbac.readNamespacedRole({ namespace: ns, name: rbacName('inc-1') });
    expect((role.rules ?? []).map((r) => [r.resources?.join(), r.verbs.join(), r.resourceNames?.join()])).toEqual([
      ['pods', 'get,list,watch', 'checkout-1,checkout-2'],
      ['pods/attach', 'create,get', 'checkout-1,checkout-2'],
      ['pods/ephemeralcontainers', 'patch', 'checkout-1,checkout-2'],
      ['pods/exec', 'create,get', 'checkout-1,checkout-2'],
      ['pods/log', 'get', 'checkout-1,checkout-2'],
      ['debuggrants', 'get,patch', 'inc-1'],
    ]);
    expect(role.metadata?.ownerReferences?.[0]?.uid).toBe(created.metadata.uid);

    // A real PATCH as alice, as kubectl debug sends it.
    const ok = await addEphemeralContainer('alice', ns, 'checkout-1', debugContainer('debugger', DEBUG_IMAGE, 'restricted'));
    expect(ok.spec?.ephemeralContainers?.[0]?.name).toBe('debugger');
    // Everything above was asked while the grant was in force, or its "allowed" answers would not
    // be the grant's doing: from activation, 0.5 s at load 29 and 3.4 s at load 33 (so ttl 10s, not 6s).
    process.stderr.write(`[lifecycle] checks while active done ${String(expiresAt - Date.now())} ms before the deadline\n`);
    expect(Date.now()).toBeLessThan(expiresAt);

    // Expiry: access gone within 2 s of the deadline, as the authorizer sees it.
    await eventually(
      () => podAccess('alice', ns, 'checkout-1'),
      (allowed) => !allowed,
      15_000,
      20,
    );
    const revokedAt = Date.now();
    expect(revokedAt).toBeGreaterThanOrEqual(expiresAt - 50);
    expect(revokedAt - expiresAt).toBeLessThan(2000);
    expect(await podAccess('alice', ns, 'checkout-2', 'exec', 'create')).toBe(false);
    // The RoleBinding goes at the deadline; the Role follows in the reconcile right behind it.
    expect((await rbacFor(ns, 'inc-1')).binding).toBe(false);
    await eventually(
      () => rbacFor(ns, 'inc-1'),
      (r) => !r.role && !r.binding,
    );

    const expired = await eventually(
      () => getGrant(ns, 'inc-1'),
      (g) => g?.status?.conditions?.some((c) => c.type === 'RevocationVerified') === true,
    );
    expect(expired?.status?.phase).toBe('Expired');
    expect(expired?.status?.expiresAt).toBe(active?.status?.expiresAt);
    expect(expired?.status?.conditions?.find((c) => c.type === 'Expired')).toMatchObject({ status: 'True', reason: 'TTLElapsed' });
    expect(expired?.status?.conditions?.find((c) => c.type === 'RevocationVerified')).toMatchObject({ status: 'True', reason: 'NoAccessRemains' });

    const events = await clientsFor('admin').core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=inc-1' });
    expect(events.items.map((e) => e.reason)).toEqual(expect.arrayContaining(['Activated', 'TTLElapsed']));
    const audits = op.audits().filter((a) => a.grant === `${ns}/inc-1`);
    expect(audits.map((a) => a.event)).toEqual(expect.arrayContaining(['grant.activated', 'grant.expired', 'grant.revocation-verified']));
    expect(audits.filter((a) => a.event === 'grant.expired')).toHaveLength(1);
    expect(audits.find((a) => a.event === 'grant.activated')).toMatchObject({ subject: 'User alice', pods: ['checkout-1', 'checkout-2'], by: 'test-operator' });
    expect(createdAt).toBeLessThanOrEqual(Date.parse(active?.status?.activatedAt ?? ''));
  });
});
