// The subject may end their own grant early, and only that one; the record of who revoked
// it is the API server's word (config/admission/revocation.yaml), carried into status, the
// Event and the audit line.
import { canI, clientsFor, createPod, eventually, freshNamespace, kubectl } from '../support/cluster.ts';
import { cli } from '../support/cli.ts';
import { allRbac, createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const grantAccess = (name: string, verb: string) => ({
  user: 'alice',
  groups: ['engineers', 'system:authenticated'],
  verb,
  group: 'debuggrant.dev',
  resource: 'debuggrants',
  name,
});

describe('self-revoke', () => {
  let ns: string;
  let op: TestOperator;
  beforeAll(async () => {
    ns = await freshNamespace('revoke');
    await createPod(ns, 'checkout-1', { app: 'checkout' });
    op = await startTestOperator([ns]);
    await createGrant(ns, 'alices', grantSpec());
    await createGrant(ns, 'bobs', grantSpec({ subject: { kind: 'User', name: 'bob' } }));
    await eventually(() => getGrant(ns, 'alices'), isReady);
    await eventually(() => getGrant(ns, 'bobs'), isReady);
  });
  afterAll(async () => {
    await op.stop();
  });

  test('the grant carries get and patch on itself for its subject, nothing more', async () => {
    expect(await canI({ ...grantAccess('alices', 'patch'), namespace: ns })).toBe(true);
    expect(await canI({ ...grantAccess('alices', 'get'), namespace: ns })).toBe(true);
    for (const verb of ['update', 'delete']) expect(await canI({ ...grantAccess('alices', verb), namespace: ns })).toBe(false);
    expect(await canI({ ...grantAccess('bobs', 'patch'), namespace: ns })).toBe(false);
    expect(await canI({ ...grantAccess('', 'create'), namespace: ns })).toBe(false);
    expect(
      await canI({ user: 'alice', namespace: ns, verb: 'patch', group: 'debuggrant.dev', resource: 'debuggrants', subresource: 'status', name: 'alices' }),
    ).toBe(false);
  });

  test('the API server refuses a forged revoker, a revocation without one, and other edits by the subject', async () => {
    const forged = await kubectl('alice', ['annotate', '-n', ns, 'dg', 'alices', 'debuggrant.dev/revoke=x', 'debuggrant.dev/revoked-by=bob']);
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toContain('debuggrant.dev/revoked-by must be your own username as the API server knows you (alice), not bob');
    const anonymous = await kubectl('admin', ['annotate', '-n', ns, 'dg', 'alices', 'debuggrant.dev/revoke=x']);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toContain('a revocation (debuggrant.dev/revoke) must say who asked');
    const relabel = await kubectl('alice', ['label', '-n', ns, 'dg', 'alices', 'team=mine']);
    expect(relabel.code).not.toBe(0);
    expect(relabel.stderr).toContain("alice is this grant's subject and may only revoke it");
    const g = await getGrant(ns, 'alices');
    expect(g?.metadata.annotations ?? {}).toEqual({});
    expect(g?.metadata.labels ?? {}).toEqual({});
    expect(g?.status?.phase).toBe('Active');
  });

  test("alice cannot revoke bob's grant: the refusal says so and nothing changes", async () => {
    const out = await cli('alice', ['revoke', 'bobs', '-n', ns]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/"bobs" is forbidden: User "alice" cannot (get|patch) resource "debuggrants"/);
    expect(out.stderr).toContain('as the user of context "alice"');
    expect((await getGrant(ns, 'bobs'))?.metadata.annotations ?? {}).toEqual({});
  });

  test('alice revokes her own grant; status, Event and audit line name her', async () => {
    const out = await cli('alice', ['revoke', 'alices', '-n', ns, '--reason', 'fixed, done early']);
    expect(out.stderr).toBe('');
    expect(out.stdout).toContain(`revocation of ${ns}/alices requested by alice`);
    const g = await eventually(
      () => getGrant(ns, 'alices'),
      (x) => x?.status?.phase === 'Revoked',
    );
    expect(g?.status?.revokedBy).toBe('alice');
    expect(g?.status?.conditions?.find((c) => c.type === 'Revoked')).toMatchObject({
      reason: 'RevokedByRequest',
      message: 'revoked by alice: fixed, done early',
    });
    expect(await canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'checkout-1' })).toBe(false);
    expect(await allRbac(ns)).toEqual(['Role/debuggrant-bobs', 'RoleBinding/debuggrant-bobs']);
    const audit = await eventually(async () => Promise.resolve(op.audits().find((a) => a.event === 'grant.revoked' && a.grant === `${ns}/alices`)), Boolean);
    expect(audit).toMatchObject({ by: 'alice', reason: 'RevokedByRequest' });
    const events = await eventually(
      async () => (await clientsFor('admin').core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=alices' })).items,
      (items) => items.some((e) => e.reason === 'RevokedByRequest'),
    );
    expect(events.find((e) => e.reason === 'RevokedByRequest')?.message).toBe('revoked by alice: fixed, done early');
  });

  test('revoking again says so and changes nothing; the record cannot be rewritten or withdrawn', async () => {
    const before = await getGrant(ns, 'alices');
    const again = await cli('admin', ['revoke', 'alices', '-n', ns]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${ns}/alices already ended (Revoked at ${before?.status?.endedAt ?? ''}); nothing changed.`);
    const rewrite = await kubectl('admin', ['annotate', '--overwrite', '-n', ns, 'dg', 'alices', 'debuggrant.dev/revoked-by=admin']);
    expect(rewrite.stderr).toContain('debuggrant.dev/revoked-by records who revoked this grant (alice) and cannot be changed or removed');
    const withdraw = await kubectl('admin', ['annotate', '-n', ns, 'dg', 'alices', 'debuggrant.dev/revoke-']);
    expect(withdraw.stderr).toContain('a revocation cannot be withdrawn');
    const after = await getGrant(ns, 'alices');
    expect(after?.metadata.annotations).toEqual(before?.metadata.annotations);
    expect(after?.status?.phase).toBe('Revoked');
  });
});
