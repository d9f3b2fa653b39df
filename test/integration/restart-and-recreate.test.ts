// Access never outlives its deadline because the operator was down, and a grant that
// ended never grants again, even when GitOps re-applies the same YAML after a delete.
import { canI, createPod, eventually, freshNamespace } from '../support/cluster.ts';
import { allRbac, createGrant, deleteGrant, getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { startTestOperator } from '../support/operator.ts';

const canDebug = (ns: string, pod: string) =>
  canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: pod });

describe('operator restarts and GitOps re-creation', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await freshNamespace('restart');
    await createPod(ns, 'api-1', { app: 'checkout' });
  });

  test('stopped before the deadline, started after it: revokes before start() returns', async () => {
    const first = await startTestOperator([ns]);
    await createGrant(ns, 'while-down', grantSpec({ ttl: '3s' }));
    const g = await eventually(() => getGrant(ns, 'while-down'), isReady);
    await first.stop();
    const expiresAt = Date.parse(g?.status?.expiresAt ?? '');
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 1000));
    // Nobody was there to revoke: the access outlived its deadline (what the restart must fix).
    expect(await canDebug(ns, 'api-1')).toBe(true);

    const second = await startTestOperator([ns]);
    try {
      expect(await canDebug(ns, 'api-1')).toBe(false);
      expect(await rbacFor(ns, 'while-down')).toEqual({ role: false, binding: false });
      const expired = await eventually(
        () => getGrant(ns, 'while-down'),
        (x) => x?.status?.phase === 'Expired',
      );
      expect(expired?.status?.expiresAt).toBe(g?.status?.expiresAt);
    } finally {
      await second.stop();
    }
  });

  test('a re-applied copy of an expired grant is Denied and grants nothing', async () => {
    const op = await startTestOperator([ns]);
    try {
      await createGrant(ns, 'inc-77', grantSpec({ ttl: '2s' }), 'gitops');
      await eventually(
        () => getGrant(ns, 'inc-77'),
        (x) => x?.status?.phase === 'Expired',
      );
      await deleteGrant(ns, 'inc-77');
      await eventually(
        () => getGrant(ns, 'inc-77'),
        (x) => x === undefined,
      );

      await createGrant(ns, 'inc-77', grantSpec({ ttl: '2s' }), 'gitops');
      const again = await eventually(
        () => getGrant(ns, 'inc-77'),
        (x) => x?.status?.phase !== undefined,
      );
      expect(again?.status?.phase).toBe('Denied');
      const denied = again?.status?.conditions?.find((c) => c.type === 'Denied');
      expect(denied?.reason).toBe('AlreadyUsed');
      expect(denied?.message).toMatch(/already used here and ended \(Expired/);
      expect(await canDebug(ns, 'api-1')).toBe(false);
      expect(await rbacFor(ns, 'inc-77')).toEqual({ role: false, binding: false });
    } finally {
      await op.stop();
    }
  });

  test('deleting an active grant revokes it at once, and its name stays spent', async () => {
    const op = await startTestOperator([ns]);
    try {
      await createGrant(ns, 'short-lived', grantSpec({ ttl: '1h' }));
      await eventually(() => getGrant(ns, 'short-lived'), isReady);
      expect(await canDebug(ns, 'api-1')).toBe(true);
      await deleteGrant(ns, 'short-lived');
      await eventually(
        () => getGrant(ns, 'short-lived'),
        (x) => x === undefined,
      );
      expect(await canDebug(ns, 'api-1')).toBe(false);
      expect(await allRbac(ns)).toEqual([]);
      expect(op.audits().some((a) => a.grant === `${ns}/short-lived` && a.event === 'grant.revoked')).toBe(true);

      await createGrant(ns, 'short-lived', grantSpec({ ttl: '1h' }));
      const again = await eventually(
        () => getGrant(ns, 'short-lived'),
        (x) => x?.status?.phase !== undefined,
      );
      expect(again?.status?.phase).toBe('Denied');
      expect(await canDebug(ns, 'api-1')).toBe(false);
    } finally {
      await op.stop();
    }
  });
});
