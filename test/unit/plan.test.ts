import { parseConfig } from '../../src/config.ts';
import { planGrant, type GrantObservation } from '../../src/controller/plan.ts';
import type { DebugGrant } from '../../src/api/types.ts';
import type { CachedPod } from '../../src/kube/cached.ts';

const config = parseConfig({ approvedRegistries: ['registry.example.com/debug/'], maxTtl: '4h' });
const image = `registry.example.com/debug/netshoot@sha256:${'a'.repeat(64)}`;
const t0 = new Date('2026-11-23T10:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

function grant(spec: Record<string, unknown> = {}, status?: DebugGrant['status'], meta: Partial<DebugGrant['metadata']> = {}): DebugGrant {
  return {
    metadata: { name: 'g', namespace: 'shop', uid: 'uid-1', generation: 1, finalizers: ['debuggrant.dev/revoke'], ...meta },
    spec: { subject: { kind: 'User', name: 'alice' }, podSelector: { matchLabels: { app: 'web' } }, image, ttl: '1h', reason: 'INC-1 web is slow', ...spec },
    status,
  };
}
const pod = (name: string, labels: Record<string, string>, extra: Partial<CachedPod> = {}): CachedPod => ({ metadata: { name, labels }, ...extra });
const pods = [pod('web-1', { app: 'web' }), pod('web-2', { app: 'web' }), pod('db-1', { app: 'db' })];
const observe = (g: DebugGrant, now = t0, o: Partial<GrantObservation> = {}): GrantObservation => ({ grant: g, pods, ended: undefined, now, config, ...o });

describe('planGrant', () => {
  test('activates with the matching pods, expiry = activation + ttl', () => {
    const d = planGrant(observe(grant()));
    expect(d.phase).toBe('Active');
    expect(d.pods).toEqual(['web-1', 'web-2']);
    expect(d.expiresAt).toBe(at(3_600_000).toISOString());
    expect(d.deadline).toEqual(at(3_600_000));
    expect(d.rbac?.role.rules?.[0]?.resourceNames).toEqual(['web-1', 'web-2']);
    expect(d.indexChange).toMatchObject({ kind: 'upsert', entry: { username: 'alice', group: '', pods: ['web-1', 'web-2'], image, access: ['debug'] } });
  });

  test('notAfter earlier than activation + ttl bounds the deadline', () => {
    const d = planGrant(observe(grant({ notAfter: at(600_000).toISOString() })));
    expect(d.expiresAt).toBe(at(600_000).toISOString());
  });

  test('the recorded expiry is never recomputed, so a later reconcile cannot extend it', () => {
    const status = { phase: 'Active' as const, activatedAt: t0.toISOString(), expiresAt: at(1000).toISOString() };
    expect(planGrant(observe(grant({ ttl: '4h' }, status), at(500))).expiresAt).toBe(at(1000).toISOString());
    const late = planGrant(observe(grant({}, status), at(1000)));
    expect(late.phase).toBe('Expired');
    expect(late.reason).toBe('TTLElapsed');
    expect(late.rbac).toBeUndefined();
    expect(late.indexChange).toMatchObject({ kind: 'end', phase: 'Expired' });
  });

  test('no matching pod means no Role at all, never one with empty resourceNames', () => {
    const d = planGrant(observe(grant({ podSelector: { matchLabels: { app: 'nothing' } } })));
    expect(d.phase).toBe('Active');
    expect(d.reason).toBe('NoMatchingPods');
    expect(d.rbac).toBeUndefined();
  });

  test('terminating and finished pods are not granted', () => {
    const d = planGrant(
      observe(grant(), t0, {
        pods: [
          pod('web-1', { app: 'web' }, { status: { phase: 'Succeeded' } }),
          pod('web-2', { app: 'web' }, { metadata: { name: 'web-2', labels: { app: 'web' }, deletionTimestamp: t0.toISOString() } }),
        ],
      }),
    );
    expect(d.pods).toEqual([]);
  });

  test('a terminal grant stays terminal and keeps its reason', () => {
    const status = {
      phase: 'Expired' as const,
      activatedAt: t0.toISOString(),
      expiresAt: at(1).toISOString(),
      pods: ['web-1'],
      conditions: [{ type: 'Expired', status: 'True' as const, reason: 'NotAfterReached', message: 'notAfter reached', lastTransitionTime: t0.toISOString() }],
    };
    const d = planGrant(observe(grant({}, status), at(10)));
    expect(d).toMatchObject({ phase: 'Expired', reason: 'NotAfterReached', rbac: undefined, pods: ['web-1'] });
  });

  test('a copy of a grant that already ended (other uid) is Denied as AlreadyUsed', () => {
    const d = planGrant(observe(grant(), t0, { ended: { grant: 'g', uid: 'uid-0', phase: 'Expired', endedAt: t0.toISOString() } }));
    expect(d).toMatchObject({ phase: 'Denied', reason: 'AlreadyUsed', rbac: undefined });
    expect(d.indexChange).toEqual({ kind: 'remove', grant: 'g', uid: 'uid-1' });
  });

  test('a grant whose status was wiped is restored to its recorded end', () => {
    const d = planGrant(observe(grant(), t0, { ended: { grant: 'g', uid: 'uid-1', phase: 'Revoked', endedAt: t0.toISOString() } }));
    expect(d).toMatchObject({ phase: 'Revoked', rbac: undefined });
  });

  test('deleting an activated grant revokes it; deleting a never-active one just removes it', () => {
    const active = planGrant(
      observe(grant({}, { phase: 'Active', activatedAt: t0.toISOString(), expiresAt: at(9e6).toISOString() }, { deletionTimestamp: t0 })),
    );
    expect(active).toMatchObject({ phase: 'Revoked', reason: 'Deleted', rbac: undefined, indexChange: { kind: 'end', phase: 'Revoked' } });
    const fresh = planGrant(observe(grant({}, undefined, { deletionTimestamp: t0 })));
    expect(fresh.indexChange).toMatchObject({ kind: 'remove' });
  });

  test('policy: unapproved registry and ttl over the maximum are denied with both reasons', () => {
    const d = planGrant(observe(grant({ image: `evil.io/x@sha256:${'b'.repeat(64)}`, ttl: '5h' })));
    expect(d.phase).toBe('Denied');
    expect(d.reason).toBe('PolicyViolation');
    expect(d.message).toContain('not from an approved registry');
    expect(d.message).toContain("longer than this cluster's maximum of 4h");
  });

  test('a policy tightened under an active grant revokes it', () => {
    const status = { phase: 'Active' as const, activatedAt: t0.toISOString(), expiresAt: at(3_600_000).toISOString() };
    const strict = parseConfig({ approvedRegistries: ['other.example.com/'] });
    const d = planGrant(observe(grant({}, status), at(10), { config: strict }));
    expect(d).toMatchObject({ phase: 'Revoked', reason: 'PolicyChanged', rbac: undefined });
  });

  test("a grant in a reserved namespace (the operator's own, a system one) is Denied, and revoked when it held access", () => {
    const reserved = parseConfig({ approvedRegistries: ['registry.example.com/debug/'], reservedNamespaces: ['kube-system', 'debuggrant-system'] });
    const d = planGrant(observe(grant({ access: ['exec'] }, undefined, { namespace: 'debuggrant-system' }), t0, { config: reserved }));
    expect(d).toMatchObject({ phase: 'Denied', reason: 'ReservedNamespace', rbac: undefined, indexChange: { kind: 'remove' }, pods: [] });
    expect(d.message).toBe(
      "debuggrant-system is a reserved namespace (kube-system, debuggrant-system): debuggrant never grants access in the operator's own namespace or a system namespace",
    );
    // Active before the namespace was reserved (an older operator, another configuration): revoked.
    const status = { phase: 'Active' as const, activatedAt: t0.toISOString(), expiresAt: at(3_600_000).toISOString() };
    const was = planGrant(observe(grant({}, status, { namespace: 'kube-system' }), at(10), { config: reserved }));
    expect(was).toMatchObject({ phase: 'Revoked', reason: 'PolicyChanged', rbac: undefined, indexChange: { kind: 'end' } });
    expect(planGrant(observe(grant(), t0, { config: reserved })).phase).toBe('Active');
  });

  test('a revoke annotation ends the grant as Revoked, active or not', () => {
    const annotations = { 'debuggrant.dev/revoke': 'done', 'debuggrant.dev/revoked-by': 'carol' };
    const active = planGrant(observe(grant({}, { phase: 'Active', activatedAt: t0.toISOString(), expiresAt: at(9e6).toISOString() }, { annotations })));
    expect(active).toMatchObject({
      phase: 'Revoked',
      reason: 'RevokedByRequest',
      message: 'revoked by carol: done',
      revokedBy: 'carol',
      rbac: undefined,
      indexChange: { kind: 'end' },
    });
    // Once Revoked, later reconciles keep who revoked it.
    expect(planGrant(observe(grant({}, { phase: 'Revoked', revokedBy: 'carol' }, { annotations }))).revokedBy).toBe('carol');
    expect(planGrant(observe(grant({}, undefined, { annotations: { 'debuggrant.dev/revoke': '' } }))).phase).toBe('Revoked');
  });

  test('invalid spec is denied with the field named', () => {
    const d = planGrant(observe(grant({ image: 'netshoot:latest' })));
    expect(d.phase).toBe('Denied');
    expect(d.message).toMatch(/^spec\.image: image must be pinned by digest/);
  });

  test('notAfter already past before activation is denied', () => {
    const d = planGrant(observe(grant({ notAfter: at(-1).toISOString() })));
    expect(d).toMatchObject({ phase: 'Denied', reason: 'NotAfterInPast' });
  });

  test('service account and group subjects become the identities admission compares', () => {
    const sa = planGrant(observe(grant({ subject: { kind: 'ServiceAccount', name: 'bot', namespace: 'tools' } })));
    expect(sa.indexChange).toMatchObject({ entry: { username: 'system:serviceaccount:tools:bot', group: '' } });
    expect(sa.rbac?.binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'bot', namespace: 'tools' }]);
    const group = planGrant(observe(grant({ subject: { kind: 'Group', name: 'oncall' } })));
    expect(group.indexChange).toMatchObject({ entry: { username: '', group: 'oncall' } });
  });

  describe('what is on record decides, not only the status', () => {
    const entry = {
      grant: 'g',
      uid: 'uid-1',
      username: 'alice',
      group: '',
      pods: ['web-1'],
      image,
      profile: 'restricted' as const,
      activatedAt: t0.toISOString(),
      expiresAt: at(3000).toISOString(),
    };

    test('an index entry with no status (crash before the status write) keeps its deadline, never a fresh one', () => {
      const d = planGrant(observe(grant({ ttl: '1h' }), at(1000), { active: entry }));
      expect(d).toMatchObject({ phase: 'Active', activatedAt: t0.toISOString(), expiresAt: at(3000).toISOString() });
      expect(d.deadline).toEqual(at(3000));
    });

    test('past its recorded deadline with no status, it ends Expired (it held access), not Denied/NotAfterInPast', () => {
      const d = planGrant(observe(grant({ notAfter: at(3000).toISOString() }), at(10_000), { active: entry }));
      expect(d).toMatchObject({
        phase: 'Expired',
        reason: 'NotAfterReached',
        activatedAt: t0.toISOString(),
        expiresAt: at(3000).toISOString(),
        pods: ['web-1'],
        rbac: undefined,
      });
      expect(d.indexChange).toMatchObject({ kind: 'end', uid: 'uid-1', phase: 'Expired' });
    });

    test('without any record, notAfter in the past is still Denied', () => {
      expect(planGrant(observe(grant({ notAfter: at(3000).toISOString() }), at(10_000))).reason).toBe('NotAfterInPast');
    });

    test('a previous grant of the same name still on record (finalizer removed by hand) ends, and the newcomer is AlreadyUsed', () => {
      const d = planGrant(observe(grant(), at(10_000), { predecessor: { uid: 'uid-0', expiresAt: at(3000).toISOString(), subject: 'User alice' } }));
      expect(d).toMatchObject({ phase: 'Denied', reason: 'AlreadyUsed', rbac: undefined, deadline: undefined });
      expect(d.indexChange).toEqual({ kind: 'end', grant: 'g', uid: 'uid-0', phase: 'Expired', endedAt: at(10_000).toISOString() });
      expect(d.predecessorEnded).toMatchObject({ uid: 'uid-0', phase: 'Expired', subject: 'User alice' });
      const early = planGrant(observe(grant(), t0, { predecessor: { uid: 'uid-0', expiresAt: at(3000).toISOString(), subject: 'User alice' } }));
      expect(early.indexChange).toMatchObject({ uid: 'uid-0', phase: 'Revoked' });
    });
  });
});
