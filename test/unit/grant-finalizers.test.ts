// Which finalizers a grant should carry: ours under its new name, the old name gone, everyone
// else's kept in order (the real API server's side: test/integration/finalizer-migration.test.ts).
import { FINALIZER, LEGACY_FINALIZER } from '../../src/api/names.ts';
import { ownFinalizers } from '../../src/kube/grants.ts';

describe('ownFinalizers', () => {
  test('adds ours to a grant without it, after everyone else', () => {
    expect(ownFinalizers(undefined)).toEqual([FINALIZER]);
    expect(ownFinalizers([])).toEqual([FINALIZER]);
    expect(ownFinalizers(['example.com/a'])).toEqual(['example.com/a', FINALIZER]);
  });

  test("replaces the old name, keeping another controller's in order", () => {
    expect(ownFinalizers([LEGACY_FINALIZER])).toEqual([FINALIZER]);
    expect(ownFinalizers(['example.com/a', LEGACY_FINALIZER, 'example.com/b'])).toEqual(['example.com/a', 'example.com/b', FINALIZER]);
    expect(ownFinalizers([FINALIZER, LEGACY_FINALIZER])).toEqual([FINALIZER]);
  });

  test('leaves a grant that carries ours (and not the old one) alone', () => {
    expect(ownFinalizers([FINALIZER])).toBeUndefined();
    expect(ownFinalizers(['example.com/a', FINALIZER])).toBeUndefined();
  });

  test('the two names differ: the finalizer is no longer the revoke annotation', () => {
    expect(FINALIZER).toBe('debuggrant.dev/rbac-cleanup');
    expect(LEGACY_FINALIZER).toBe('debuggrant.dev/revoke');
  });
});
