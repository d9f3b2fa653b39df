// kubectl-debuggrant against the real control plane, run as its own process like a user
// would: new → validate → apply as gitops, list, debug (with our kubectl), revoke, audit.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canI, clientsFor, createPod, eventually, freshNamespace, kubectl, plane } from '../support/cluster.ts';
import { cli } from '../support/cli.ts';
import { allRbac, createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { DEBUG_IMAGE, startTestOperator, type TestOperator } from '../support/operator.ts';

const CONFIG = fileURLToPath(new URL('../../config/samples/operator-config.yaml', import.meta.url));

describe('kubectl debuggrant', () => {
  let ns: string;
  let op: TestOperator;
  beforeAll(async () => {
    ns = await freshNamespace('cli');
    await createPod(ns, 'checkout-1', { app: 'checkout' });
    op = await startTestOperator([ns]);
  });
  afterAll(async () => { await op.stop(); });

  test('new writes a grant that validate accepts and the API server takes from gitops', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dg-cli-')), 'grant.yaml');
    const made = await cli('admin', ['new', '--name', 'from-cli', '-n', ns, '--user', 'alice', '--selector', 'app=checkout',
      '--image', DEBUG_IMAGE, '--ttl', '30m', '--reason', 'INC-9 checkout errors, need tcpdump', '--approval', 'https://git.example.com/pr/9', '--write', file]);
    expect(made.code).toBe(0);
    const checked = await cli('admin', ['validate', file, '--config', CONFIG]);
    expect(checked.stdout).toContain('ok: 1 DebugGrant(s) in 1 file(s) are valid');
    const applied = await kubectl('gitops', ['apply', '-f', file]);
    expect(applied.code).toBe(0);
    await eventually(() => getGrant(ns, 'from-cli'), isReady);
  });

  test('list shows phase, pods and time left', async () => {
    const out = await cli('alice', ['list', '-n', ns]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^NAME\s+SUBJECT\s+PHASE/);
    expect(out.stdout).toMatch(/\nfrom-cli\s+User\/alice\s+Active\s+checkout-1\s+(29m\d*s?|30m)/);
    const json = JSON.parse((await cli('admin', ['list', '-A', '-o', 'json'])).stdout) as { kind: string; items: { metadata: { name: string } }[] };
    expect(json.kind).toBe('List');
    expect(json.items.map((g) => g.metadata.name)).toContain('from-cli');
  });

  test('debug runs kubectl debug with the grant\'s image and profile', async () => {
    const out = await cli('alice', ['debug', 'checkout-1', '-n', ns, '--no-attach', '--kubectl', plane().kubectl, '--', '--container=via-cli']);
    expect(out.stderr).toContain(`using grant ${ns}/from-cli`);
    expect(out.code).toBe(0);
    const pod = await clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'checkout-1' });
    const added = pod.spec?.ephemeralContainers?.find((c) => c.name === 'via-cli');
    expect(added?.image).toBe(DEBUG_IMAGE);
    expect(added?.securityContext?.runAsNonRoot).toBe(true);
    const bob = await cli('bob', ['debug', 'checkout-1', '-n', ns, '--no-attach', '--kubectl', plane().kubectl]);
    expect(bob.code).toBe(2);
    expect(bob.stderr).toContain(`bob has no active DebugGrant covering ${ns}/checkout-1`);
  });

  test('revoke ends the grant at once and prints the GitOps follow-up', async () => {
    const out = await cli('carol', ['revoke', 'from-cli', '-n', ns, '--reason', 'incident closed']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('delete the grant\'s file from the repository');
    const g = await eventually(() => getGrant(ns, 'from-cli'), (x) => x?.status?.phase === 'Revoked');
    expect(g?.status?.conditions?.find((c) => c.type === 'Revoked')?.message).toBe('revoked by carol: incident closed');
    expect(g?.status?.revokedBy).toBe('carol');
    expect(await canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'checkout-1' })).toBe(false);
    expect(await allRbac(ns)).toEqual([]);
    // Revoking an ended grant says so and changes nothing.
    const again = await cli('admin', ['revoke', 'from-cli', '-n', ns, '--reason', 'twice']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${ns}/from-cli already ended (Revoked at `);
    expect(again.stdout).toContain('nothing changed');
    expect((await getGrant(ns, 'from-cli'))?.metadata.annotations).toMatchObject({ 'debuggrant.dev/revoke': 'incident closed', 'debuggrant.dev/revoked-by': 'carol' });
  });

  test('audit lists standing debug access outside grants, not the grants themselves', async () => {
    const admin = clientsFor('admin');
    await createGrant(ns, 'audited', grantSpec({ ttl: '10m' }));
    await eventually(() => getGrant(ns, 'audited'), isReady);
    await admin.rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: 'legacy-exec' }, rules: [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] }] } });
    await admin.rbac.createNamespacedRoleBinding({ namespace: ns, body: { metadata: { name: 'legacy-exec' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'legacy-exec' }, subjects: [{ kind: 'User', name: 'bob', apiGroup: 'rbac.authorization.k8s.io' }] } });
    const out = await cli('admin', ['audit', '-o', 'json']);
    expect(out.code).toBe(0);
    const findings = JSON.parse(out.stdout) as { subject: string; scope: string; privileges: string[]; binding: string }[];
    expect(findings).toContainEqual(expect.objectContaining({ subject: 'bob', scope: ns, privileges: ['exec'], binding: `RoleBinding/${ns}/legacy-exec` }));
    expect(findings.some((f) => f.binding.includes('debuggrant-audited'))).toBe(false);
    const table = await cli('admin', ['audit', '--include-system']);
    expect(table.stdout).toMatch(/system:masters\s+Group\s+cluster\s+cluster-admin-like/);
  });
});
