// Syncs as the GitOps controllers send them: server-side apply with force by their field
// managers (argocd-controller; kustomize-controller), as the GitOps identity, of grants the
// operator has settled Active, Expired, Denied and Revoked. A re-sync changes nothing (not even
// the resourceVersion), touches nothing the operator owns (status, finalizer, the revocation
// record), and `kubectl diff --server-side` finds no difference, so no perpetual diff. Deleting
// the file (prune) revokes; re-applying an ended grant's file never grants again.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { FINALIZER } from '../../src/api/names.ts';
import type { DebugGrant } from '../../src/api/types.ts';
import { canI, createPod, eventually, freshNamespace, kubectl } from '../support/cluster.ts';
import { cli } from '../support/cli.ts';
import { getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const dir = mkdtempSync(join(tmpdir(), 'dg-gitops-sync-'));
const condition = (g: DebugGrant | undefined, type: string): string | undefined => g?.status?.conditions?.find((c) => c.type === type)?.status;

/** The grant's file, as `kubectl debuggrant new --write` leaves it in the repository. */
function grantFile(ns: string, name: string, spec: Record<string, unknown>): string {
  const file = join(dir, `${ns}-${name}.yaml`);
  writeFileSync(file, stringify({ apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrant', metadata: { name, namespace: ns }, spec }));
  return file;
}

/** What the controller sends on sync: server-side apply, forced, under its field manager, as the GitOps identity. */
const sync = (file: string, manager: string) => kubectl('gitops', ['apply', '--server-side', '--force-conflicts', `--field-manager=${manager}`, '-f', file]);
const diff = (file: string, manager: string) => kubectl('gitops', ['diff', '--server-side', '--force-conflicts', `--field-manager=${manager}`, '-f', file]);
const debugAllowed = (ns: string, pod: string) =>
  canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: pod });

describe('GitOps syncs never fight the operator', () => {
  let ns: string;
  let op: TestOperator;
  beforeAll(async () => {
    ns = await freshNamespace('gitops-sync');
    for (const app of ['active', 'expired', 'revoked', 'pruned']) await createPod(ns, `${app}-1`, { app });
    // The operator's maxTtl is below admission's: a 3h grant is admitted, then Denied by the operator.
    op = await startTestOperator([ns], { maxTtl: '2h' });
  });
  afterAll(async () => {
    await op.stop();
  });

  test.each<[string, string, Record<string, unknown>, (g: DebugGrant | undefined) => boolean, (ns: string) => Promise<void>]>([
    ['active', 'argocd-controller', { podSelector: { matchLabels: { app: 'active' } } }, isReady, async () => {}],
    [
      'expired',
      'argocd-controller',
      { ttl: '3s', podSelector: { matchLabels: { app: 'expired' } } },
      (g) => g?.status?.phase === 'Expired' && condition(g, 'Ready') === 'True',
      async () => {},
    ],
    ['denied', 'kustomize-controller', { ttl: '3h' }, (g) => g?.status?.phase === 'Denied' && condition(g, 'Stalled') === 'True', async () => {}],
    [
      'revoked',
      'kustomize-controller',
      { podSelector: { matchLabels: { app: 'revoked' } } },
      (g) => g?.status?.phase === 'Revoked' && condition(g, 'Ready') === 'True',
      async (n) => {
        await eventually(() => getGrant(n, 'revoked'), isReady);
        expect((await cli('carol', ['revoke', 'revoked', '-n', n, '--reason', 'done early'])).code).toBe(0);
      },
    ],
  ])('%s: a forced server-side re-apply by %s changes nothing and shows no diff', async (name, manager, overrides, settled, act) => {
    const file = grantFile(ns, name, grantSpec(overrides));
    const first = await sync(file, manager);
    expect(first.stderr).toBe('');
    await act(ns);
    const before = await eventually(() => getGrant(ns, name), settled, 20_000);
    expect(before?.metadata.finalizers).toEqual([FINALIZER]);

    for (let i = 0; i < 2; i++) {
      const again = await sync(file, manager);
      expect(again.stderr).toBe('');
      expect(again.stdout).toContain('serverside-applied');
    }
    const after = await getGrant(ns, name);
    // Not a write at all: the API server kept the object as it was.
    expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
    expect(after?.status).toEqual(before?.status);
    expect(after?.metadata.finalizers).toEqual(before?.metadata.finalizers);
    expect(after?.metadata.annotations).toEqual(before?.metadata.annotations);
    const d = await diff(file, manager);
    expect({ code: d.code, stdout: d.stdout, stderr: d.stderr }).toEqual({ code: 0, stdout: '', stderr: '' });
    if (name !== 'active') expect(await debugAllowed(ns, `${name}-1`)).toBe(false);
  });

  test("Argo CD's default sync (client-side apply, last-applied annotation) also changes nothing and shows no diff", async () => {
    await createPod(ns, 'client-side-1', { app: 'client-side' });
    const file = grantFile(ns, 'client-side', grantSpec({ podSelector: { matchLabels: { app: 'client-side' } } }));
    expect((await kubectl('gitops', ['apply', '-f', file])).stderr).toBe('');
    const before = await eventually(() => getGrant(ns, 'client-side'), isReady);
    const again = await kubectl('gitops', ['apply', '-f', file]);
    expect(again.stdout).toContain('unchanged');
    const after = await getGrant(ns, 'client-side');
    expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
    const d = await kubectl('gitops', ['diff', '-f', file]);
    expect({ code: d.code, stdout: d.stdout }).toEqual({ code: 0, stdout: '' });
  });

  test("deleting the file (prune) revokes; re-applying the ended grant's file never grants again", async () => {
    const file = grantFile(ns, 'pruned', grantSpec({ podSelector: { matchLabels: { app: 'pruned' } } }));
    expect((await sync(file, 'argocd-controller')).stderr).toBe('');
    await eventually(() => getGrant(ns, 'pruned'), isReady);
    expect(await debugAllowed(ns, 'pruned-1')).toBe(true);

    // Prune: the controller deletes what left the repository, as the GitOps identity.
    const deleted = await kubectl('gitops', ['delete', '-f', file, '--wait=true']);
    expect(deleted.stderr).toBe('');
    expect(await debugAllowed(ns, 'pruned-1')).toBe(false);
    expect(await rbacFor(ns, 'pruned')).toEqual({ role: false, binding: false });

    // A revert of the deletion, or a stale branch: the same file synced again.
    expect((await sync(file, 'argocd-controller')).stderr).toBe('');
    const again = await eventually(
      () => getGrant(ns, 'pruned'),
      (g) => g?.status?.phase === 'Denied',
    );
    expect(again?.status?.conditions?.find((c) => c.type === 'Denied')?.reason).toBe('AlreadyUsed');
    expect(await debugAllowed(ns, 'pruned-1')).toBe(false);
    expect(await rbacFor(ns, 'pruned')).toEqual({ role: false, binding: false });
    // And the re-sync of the Denied copy shows no diff either.
    expect((await diff(file, 'argocd-controller')).stdout).toBe('');
  });
});
