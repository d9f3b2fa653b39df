import { permissionsFor } from '../../src/api/access.ts';
import { applyIndexChange, emptyIndex, mergeEnded, retained, type ActiveGrantEntry } from '../../src/api/grant-index.ts';
import { bindingMatches, planGrantRbac, roleMatches } from '../../src/controller/rbac.ts';
import { cachedRole } from '../../src/kube/cached.ts';
import { selectorMatches } from '../../src/controller/selector.ts';
import { setConditions } from '../../src/controller/conditions.ts';

const ref = { name: 'g', namespace: 'shop', uid: 'u1' };
const subject = { kind: 'User' as const, name: 'alice' };

describe('RBAC planning', () => {
  test('streams get both get and create (WebSocket exec/attach since 1.35)', () => {
    expect(permissionsFor(['exec', 'portForward'])).toEqual([
      { subresource: '', verbs: ['get'] },
      { subresource: 'exec', verbs: ['create', 'get'] },
      { subresource: 'portforward', verbs: ['create', 'get'] },
    ]);
  });

  test('no pods, no Role', () => {
    expect(planGrantRbac(ref, { access: ['debug'], subject }, [])).toBeUndefined();
  });

  test('every pod rule names the pods, sorted and deduplicated; the one grant rule names the grant', () => {
    const rbac = planGrantRbac(ref, { access: ['logs'], subject }, ['b', 'a', 'b']);
    const [grantRule, ...others] = rbac?.role.rules?.filter((r) => r.apiGroups?.join() !== '') ?? [];
    expect(rbac?.role.rules?.filter((r) => r.apiGroups?.join() === '').every((r) => r.resourceNames?.join() === 'a,b')).toBe(true);
    // The subject may end this grant (kubectl debuggrant revoke): get and patch on it, nothing more.
    expect(grantRule).toEqual({ apiGroups: ['debuggrant.dev'], resources: ['debuggrants'], verbs: ['get', 'patch'], resourceNames: [ref.name] });
    expect(others).toEqual([]);
    expect(rbac?.binding.subjects).toEqual([{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }]);
  });

  test('observed objects match regardless of key order, and not once edited', () => {
    const rbac = planGrantRbac(ref, { access: ['debug'], subject }, ['a']);
    if (!rbac) throw new Error('expected rbac');
    const observedRole = JSON.parse(
      JSON.stringify({
        ...rbac.role,
        rules: rbac.role.rules?.map((r) => ({ verbs: r.verbs, resourceNames: r.resourceNames, resources: r.resources, apiGroups: r.apiGroups })),
      }),
    ) as typeof rbac.role;
    // As the informer caches it: the rules as a digest.
    expect(roleMatches(cachedRole(observedRole), rbac.role)).toBe(true);
    expect(roleMatches(cachedRole({ ...observedRole, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['*'] }] }), rbac.role)).toBe(false);
    expect(roleMatches(cachedRole({ ...observedRole, metadata: { ...observedRole.metadata, labels: {} } }), rbac.role)).toBe(false);
    expect(roleMatches(undefined, rbac.role)).toBe(false);
    expect(bindingMatches({ ...rbac.binding, subjects: [...(rbac.binding.subjects ?? []), { kind: 'User', name: 'bob' }] }, rbac.binding)).toBe(false);
  });
});

describe('selectors', () => {
  test.each([
    [{ matchLabels: { app: 'a' } }, { app: 'a', x: '1' }, true],
    [{ matchLabels: { app: 'a' } }, { app: 'b' }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In' as const, values: ['web'] }] }, { tier: 'web' }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn' as const, values: ['web'] }], matchLabels: { app: 'a' } }, { app: 'a', tier: 'web' }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'Exists' as const }] }, {}, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' as const }], matchLabels: { app: 'a' } }, { app: 'a' }, true],
  ])('%j on %j → %s', (selector, labels, want) => {
    expect(selectorMatches(selector, labels)).toBe(want);
  });
});

describe('grant index', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  const entry = (grant: string, uid = 'u'): ActiveGrantEntry => ({
    grant,
    uid,
    username: 'alice',
    group: '',
    pods: ['p'],
    image: 'i',
    profile: 'restricted',
    activatedAt: now.toISOString(),
    expiresAt: now.toISOString(),
  });

  test('upsert, end with a record, and no write when nothing changes', () => {
    const one = applyIndexChange(emptyIndex(), { kind: 'upsert', entry: entry('b') }, now, 1e9);
    const two = applyIndexChange(one!, { kind: 'upsert', entry: entry('a') }, now, 1e9); // eslint-disable-line @typescript-eslint/no-non-null-assertion
    expect(two?.active.map((e) => e.grant)).toEqual(['a', 'b']);
    expect(applyIndexChange(two!, { kind: 'upsert', entry: entry('a') }, now, 1e9)).toBeUndefined(); // eslint-disable-line @typescript-eslint/no-non-null-assertion
    const ended = applyIndexChange(two!, { kind: 'end', grant: 'a', uid: 'u', phase: 'Expired', endedAt: now.toISOString() }, now, 1e9); // eslint-disable-line @typescript-eslint/no-non-null-assertion
    expect(ended?.active.map((e) => e.grant)).toEqual(['b']);
    expect(ended?.ended).toEqual([{ grant: 'a', uid: 'u', phase: 'Expired', endedAt: now.toISOString() }]);
  });

  test('an entry the API server returned with its keys in another order is not a change', () => {
    const mine = entry('a');
    const fromServer = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(mine).sort(([x], [y]) => y.localeCompare(x))))) as ActiveGrantEntry;
    expect(applyIndexChange({ active: [fromServer], ended: [] }, { kind: 'upsert', entry: mine }, now, 1e9)).toBeUndefined();
  });

  test('the two copies of spent names merge: per grant the later end; restoring one from the other writes only what it lacks', () => {
    const at = (ms: number): string => new Date(now.getTime() + ms).toISOString();
    const index = [
      { grant: 'a', uid: 'u1', phase: 'Expired' as const, endedAt: at(-3000) },
      { grant: 'b', uid: 'u2', phase: 'Revoked' as const, endedAt: at(-2000) },
    ];
    const history = [
      { grant: 'a', uid: 'u3', phase: 'Denied' as const, endedAt: at(-1000) },
      { grant: 'c', uid: 'u4', phase: 'Expired' as const, endedAt: at(-500) },
    ];
    const merged = mergeEnded(index, history);
    expect(merged.map((e) => `${e.grant}/${e.uid}`)).toEqual(['a/u3', 'b/u2', 'c/u4']);
    expect(mergeEnded(history, index)).toEqual(merged);
    // An index made afresh (empty) gets the history's records back; one that holds them all is not written.
    expect(applyIndexChange(emptyIndex(), { kind: 'remember', ended: history }, now, 1e9)?.ended).toEqual(history);
    expect(applyIndexChange({ active: [], ended: merged }, { kind: 'remember', ended: history }, now, 1e9)).toBeUndefined();
    expect(retained(merged, now, 1500).map((e) => e.grant)).toEqual(['a', 'c']);
  });

  test('ended records are kept for the retention period, then dropped', () => {
    const old = { active: [], ended: [{ grant: 'x', uid: 'u', phase: 'Expired' as const, endedAt: new Date(now.getTime() - 5000).toISOString() }] };
    expect(applyIndexChange(old, { kind: 'upsert', entry: entry('y') }, now, 10_000)?.ended).toHaveLength(1);
    expect(applyIndexChange(old, { kind: 'upsert', entry: entry('y') }, now, 1000)?.ended).toHaveLength(0);
  });
});

describe('conditions', () => {
  test('lastTransitionTime moves only when the status flips; observedGeneration always current', () => {
    const t1 = new Date('2026-11-23T10:00:00Z');
    const t2 = new Date('2026-11-23T11:00:00Z');
    const first = setConditions(undefined, [{ type: 'Ready', status: 'False', reason: 'A', message: '' }], 1, t1);
    const same = setConditions(first, [{ type: 'Ready', status: 'False', reason: 'B', message: 'x' }], 2, t2);
    expect(same[0]).toMatchObject({ lastTransitionTime: t1.toISOString(), reason: 'B', observedGeneration: 2 });
    const flipped = setConditions(same, [{ type: 'Ready', status: 'True', reason: 'C', message: '' }], 2, t2);
    expect(flipped[0]?.lastTransitionTime).toBe(t2.toISOString());
  });
});
