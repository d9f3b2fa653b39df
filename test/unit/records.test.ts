import type { CachedRoleBinding } from '../../src/kube/cached.ts';
import type { ActiveGrantEntry, IndexContent } from '../../src/api/grant-index.ts';
import type { DebugGrant } from '../../src/api/types.ts';
import { findPredecessor, keysDueBy, recordedDeadline } from '../../src/revocation/records.ts';

const t = (ms: number): string => new Date(Date.parse('2026-11-23T10:00:00Z') + ms).toISOString();
const entry = (grant: string, uid: string, expiresAt: string): ActiveGrantEntry => ({
  grant,
  uid,
  username: 'alice',
  group: '',
  pods: ['web-1'],
  image: 'i',
  profile: 'restricted',
  activatedAt: t(0),
  expiresAt,
});
const index = (...active: ActiveGrantEntry[]): IndexContent => ({ active, ended: [] });
const grant = (name: string, status?: DebugGrant['status']): DebugGrant => ({ metadata: { name, namespace: 'shop', uid: 'uid-1' }, status });

describe('recordedDeadline', () => {
  test('the index entry is the record, with or without a status', () => {
    expect(recordedDeadline(index(entry('g', 'uid-1', t(5000))), 'g', grant('g'))).toBe(Date.parse(t(5000)));
    expect(recordedDeadline(index(entry('g', 'uid-1', t(5000))), 'g', undefined)).toBe(Date.parse(t(5000)));
  });

  test('an Active status counts too; the earliest wins; other names and ended grants do not', () => {
    expect(recordedDeadline(index(), 'g', grant('g', { phase: 'Active', expiresAt: t(3000) }))).toBe(Date.parse(t(3000)));
    expect(recordedDeadline(index(entry('g', 'uid-0', t(1000))), 'g', grant('g', { phase: 'Active', expiresAt: t(3000) }))).toBe(Date.parse(t(1000)));
    expect(recordedDeadline(index(entry('other', 'uid-2', t(1000))), 'g', grant('g', { phase: 'Expired', expiresAt: t(3000) }))).toBeUndefined();
  });
});

describe('keysDueBy', () => {
  test('due index entries and Active statuses, by namespace/name', () => {
    const indexes = [{ metadata: { namespace: 'a' }, active: [entry('x', 'u1', t(1000)), entry('y', 'u2', t(9000))] }];
    const grants = [
      { ...grant('z', { phase: 'Active' as const, expiresAt: t(2000) }), metadata: { name: 'z', namespace: 'b' } },
      { ...grant('w', { phase: 'Expired' as const, expiresAt: t(2000) }), metadata: { name: 'w', namespace: 'b' } },
    ];
    expect([...keysDueBy(indexes, grants, Date.parse(t(5000)))].sort()).toEqual(['a/x', 'b/z']);
    expect(keysDueBy(indexes, grants, Date.parse(t(500))).size).toBe(0);
  });
});

describe('findPredecessor', () => {
  test('an active entry of the same name with another uid', () => {
    expect(findPredecessor(index(entry('g', 'uid-0', t(1))), 'g', 'uid-1', [])).toEqual({ uid: 'uid-0', expiresAt: t(1), subject: 'User alice' });
    expect(findPredecessor(index(entry('g', 'uid-1', t(1))), 'g', 'uid-1', [])).toBeUndefined();
  });

  test('RBAC owned by another uid, when the index lost the entry', () => {
    const binding: CachedRoleBinding = {
      metadata: { name: 'debuggrant-g', ownerReferences: [{ apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrant', name: 'g', uid: 'uid-0' }] },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'debuggrant-g' },
      subjects: [{ kind: 'User', name: 'alice' }],
    };
    expect(findPredecessor(index(), 'g', 'uid-1', [undefined, binding])).toEqual({ uid: 'uid-0', expiresAt: undefined, subject: 'User alice' });
    expect(findPredecessor(index(), 'g', 'uid-0', [binding])).toBeUndefined();
  });
});
