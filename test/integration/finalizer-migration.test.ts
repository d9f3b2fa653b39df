// The finalizer's rename (debuggrant.dev/revoke → debuggrant.dev/rbac-cleanup): grants written by
// an older operator carry the old one. Across a restart the operator replaces it with the new
// one on live grants (keeping everyone else's), and a grant deleted while it carried only the
// old one still has its access taken away before it goes.
import { FINALIZER, LEGACY_FINALIZER } from '../../src/api/names.ts';
import { canI, createPod, eventually, freshNamespace, kubectl } from '../support/cluster.ts';
import { createGrant, deleteGrant, getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { startTestOperator } from '../support/operator.ts';

const OTHER = 'example.com/keep-me';
const canDebug = (ns: string, pod: string) =>
  canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: pod });

/** As an older operator left it: its finalizers replaced, as admin, with a real JSON patch. */
async function setFinalizers(ns: string, name: string, finalizers: string[]): Promise<void> {
  const r = await kubectl('admin', [
    'patch',
    'debuggrant',
    name,
    '-n',
    ns,
    '--type=json',
    '-p',
    JSON.stringify([{ op: 'add', path: '/metadata/finalizers', value: finalizers }]),
  ]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

/** A namespace per test, with the pod the grants select: one test's grant never answers another's question. */
async function namespaceWithPod(): Promise<string> {
  const ns = await freshNamespace('finalizer');
  await createPod(ns, 'api-1', { app: 'checkout' });
  return ns;
}

describe('the finalizer rename, across an operator restart', () => {
  test('new grants get debuggrant.dev/rbac-cleanup, never the old name', async () => {
    const ns = await namespaceWithPod();
    const op = await startTestOperator([ns]);
    try {
      await createGrant(ns, 'fresh', grantSpec({ ttl: '1h' }));
      const g = await eventually(() => getGrant(ns, 'fresh'), isReady);
      expect(g?.metadata.finalizers).toEqual([FINALIZER]);
      expect(FINALIZER).not.toBe(LEGACY_FINALIZER);
    } finally {
      await op.stop();
    }
  });

  test("a live grant carrying the old finalizer gets the new one in its place; another controller's stays", async () => {
    const ns = await namespaceWithPod();
    const first = await startTestOperator([ns]);
    await createGrant(ns, 'migrated', grantSpec({ ttl: '1h' }));
    await eventually(() => getGrant(ns, 'migrated'), isReady);
    await first.stop();
    await setFinalizers(ns, 'migrated', [LEGACY_FINALIZER, OTHER]);

    const second = await startTestOperator([ns]);
    try {
      const g = await eventually(
        () => getGrant(ns, 'migrated'),
        (x) => x?.metadata.finalizers?.includes(FINALIZER) === true,
      );
      expect(g?.metadata.finalizers).toEqual([OTHER, FINALIZER]);
      expect(g?.status?.phase).toBe('Active');
      expect(await canDebug(ns, 'api-1')).toBe(true);
    } finally {
      await second.stop();
      await setFinalizers(ns, 'migrated', (await getGrant(ns, 'migrated'))?.metadata.finalizers?.filter((f) => f !== OTHER) ?? []);
    }
  });

  test('a grant deleted while it carries only the old finalizer waits for the operator, which revokes it, then lets it go', async () => {
    const ns = await namespaceWithPod();
    const first = await startTestOperator([ns]);
    await createGrant(ns, 'legacy-delete', grantSpec({ ttl: '1h' }));
    await eventually(() => getGrant(ns, 'legacy-delete'), isReady);
    await first.stop();
    await setFinalizers(ns, 'legacy-delete', [LEGACY_FINALIZER]);
    await deleteGrant(ns, 'legacy-delete');
    // With no operator, the old finalizer holds the grant (and its access) for the operator to end.
    const held = await getGrant(ns, 'legacy-delete');
    expect(held?.metadata.deletionTimestamp).toBeDefined();
    expect(held?.metadata.finalizers).toEqual([LEGACY_FINALIZER]);
    expect(await canDebug(ns, 'api-1')).toBe(true);

    const second = await startTestOperator([ns]);
    try {
      await eventually(
        () => getGrant(ns, 'legacy-delete'),
        (x) => x === undefined,
      );
      expect(await canDebug(ns, 'api-1')).toBe(false);
      expect(await rbacFor(ns, 'legacy-delete')).toEqual({ role: false, binding: false });
      expect(second.audits().some((a) => a.grant === `${ns}/legacy-delete` && a.event === 'grant.revoked')).toBe(true);
    } finally {
      await second.stop();
    }
  });
});
