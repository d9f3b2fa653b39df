import type { CachedPod, CachedRoleBinding } from '../../src/kube/cached.ts';
import type { ActiveGrantEntry, DebugGrantIndex } from '../../src/api/grant-index.ts';
import type { DebugGrant } from '../../src/api/types.ts';
import { activeStatusDeadline, IndexEntryChanges, mayLinger, owningGrant, WatchedGrants } from '../../src/controller/event-mappers.ts';

const image = `registry.example.com/debug/netshoot@sha256:${'a'.repeat(64)}`;
const grant = (name: string, status?: DebugGrant['status'], labels: Record<string, string> = { app: 'web' }): DebugGrant => ({
  metadata: { name, namespace: 'shop' },
  spec: { subject: { kind: 'User', name: 'alice' }, podSelector: { matchLabels: labels }, image, ttl: '1h', reason: 'INC-1 web is slow' },
  status,
});
const pod = (name: string, extra: Partial<CachedPod> = {}): CachedPod => ({ metadata: { name, namespace: 'shop' }, ...extra });
const entry = (g: string, expiresAt: string): ActiveGrantEntry => ({
  grant: g,
  uid: `uid-${g}`,
  username: 'alice',
  group: '',
  pods: [],
  image,
  profile: 'restricted',
  activatedAt: expiresAt,
  expiresAt,
});
const index = (active: ActiveGrantEntry[], ended: DebugGrantIndex['ended'] = []): DebugGrantIndex => ({
  metadata: { name: 'grants', namespace: 'shop' },
  active,
  ended,
});

describe('WatchedGrants', () => {
  test('re-checks the pods listed now and before, only when phase or pods change', () => {
    const m = new WatchedGrants();
    expect(m.observe(grant('g', { phase: 'Active', pods: ['a', 'b'] }), 'add')).toEqual(['a', 'b']);
    expect(m.observe(grant('g', { phase: 'Active', pods: ['a', 'b'] }), 'update')).toEqual([]);
    expect(m.observe(grant('g', { phase: 'Active', pods: ['b', 'c'] }), 'update')).toEqual(['a', 'b', 'c']);
    expect(m.observe(grant('g', { phase: 'Expired', pods: ['b', 'c'] }), 'update')).toEqual(['b', 'c']);
    expect(m.observe(grant('g', { phase: 'Expired', pods: ['b', 'c'] }), 'delete')).toEqual(['b', 'c']);
    expect(m.concerning('shop', 'b', { app: 'web' })).toEqual([]);
  });

  test('a pod concerns the grants that list it or select it, never Denied ones', () => {
    const m = new WatchedGrants();
    m.observe(grant('lists', { phase: 'Active', pods: ['web-1'] }, { app: 'other' }), 'add');
    m.observe(grant('selects', undefined, { app: 'web' }), 'add');
    m.observe(grant('denied', { phase: 'Denied' }, { app: 'web' }), 'add');
    m.observe(grant('unrelated', undefined, { app: 'db' }), 'add');
    expect(m.concerning('shop', 'web-1', { app: 'web' })).toEqual(['lists', 'selects']);
    expect(m.concerning('other-namespace', 'web-1', { app: 'web' })).toEqual([]);
  });
});

describe('activeStatusDeadline', () => {
  test('only an Active status arms a deadline', () => {
    const at = '2026-11-23T10:00:00.000Z';
    expect(activeStatusDeadline(grant('g', { phase: 'Active', expiresAt: at }), 'update')).toBe(Date.parse(at));
    expect(activeStatusDeadline(grant('g', { phase: 'Expired', expiresAt: at }), 'update')).toBeUndefined();
    expect(activeStatusDeadline(grant('g', { phase: 'Active', expiresAt: at }), 'delete')).toBeUndefined();
  });
});

describe('owningGrant', () => {
  test('by the grant label, or none', () => {
    const b = (labels?: Record<string, string>): CachedRoleBinding => ({ metadata: { name: 'x', labels }, roleRef: { apiGroup: '', kind: 'Role', name: 'x' } });
    expect(owningGrant(b({ 'debuggrant.dev/grant': 'g' }))).toBe('g');
    expect(owningGrant(b())).toBeUndefined();
  });
});

describe('IndexEntryChanges', () => {
  test('names whose entry changed, and the changed active entries to arm', () => {
    const m = new IndexEntryChanges();
    const first = m.observe('shop', index([entry('a', '2026-11-23T10:00:00Z'), entry('b', '2026-11-23T11:00:00Z')]), 'add');
    expect([...first.changed].sort()).toEqual(['a', 'b']);
    expect(first.activeChanged.map((e) => e.grant).sort()).toEqual(['a', 'b']);
    const second = m.observe(
      'shop',
      index([entry('b', '2026-11-23T11:00:00Z')], [{ grant: 'a', uid: 'uid-a', phase: 'Expired', endedAt: '2026-11-23T10:00:00Z' }]),
      'update',
    );
    expect([...second.changed]).toEqual(['a']);
    expect(second.activeChanged).toEqual([]);
    expect([...m.observe('shop', index([]), 'delete').changed].sort()).toEqual(['a', 'b']);
  });

  test('remembers each entry as a digest of its content: any field changed is a change, key order is not', () => {
    const m = new IndexEntryChanges();
    const a = entry('a', '2026-11-23T10:00:00Z');
    m.observe('shop', index([a]), 'add');
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as typeof a;
    expect([...m.observe('shop', index([reordered]), 'update').changed]).toEqual([]);
    expect([...m.observe('shop', index([{ ...a, pods: ['other'] }]), 'update').changed]).toEqual(['a']);
    expect([...m.observe('shop', index([{ ...a, pods: ['other'], expiresAt: '2026-11-23T10:00:01Z' }]), 'update').activeChanged.map((e) => e.grant)]).toEqual([
      'a',
    ]);
  });
});

describe('mayLinger', () => {
  test('pods with ephemeral containers, or our flag to take down', () => {
    expect(mayLinger(pod('p'))).toBe(false);
    expect(mayLinger(pod('p', { metadata: { name: 'p', annotations: { 'debuggrant.dev/lingering': 'd=i' } } }))).toBe(true);
    expect(mayLinger(pod('p', { status: { ephemeralContainerStatuses: [{ name: 'd', image: 'i' }] } }))).toBe(true);
  });
});
