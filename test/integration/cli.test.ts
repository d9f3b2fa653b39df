// kubectl-debuggrant against the real control plane, run as its own process like a user
// would: new → validate → apply as gitops, list, debug (with our kubectl), revoke, audit.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { VERSION } from '../../src/version.ts';
import { canI, clientsFor, createPod, eventually, freshNamespace, kubectl, plane } from '../support/cluster.ts';
import { cli } from '../support/cli.ts';
import { allRbac, createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { DEBUG_IMAGE, startTestOperator, type TestOperator } from '../support/operator.ts';

const CONFIG = fileURLToPath(new URL('../../config/samples/operator-config.yaml', import.meta.url));

interface Kubeconfig {
  clusters: { cluster: { server: string } }[];
  contexts: { context: { namespace?: string } }[];
  users: { user: Record<string, unknown> }[];
}

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A copy of the test plane's kubeconfig, changed by `edit`. */
function kubeconfigWith(edit: (kc: Kubeconfig) => void): string {
  const kc = parse(readFileSync(plane().kubeconfig, 'utf8')) as Kubeconfig;
  edit(kc);
  const file = join(mkdtempSync(join(tmpdir(), 'dg-kubeconfig-')), 'kubeconfig');
  writeFileSync(file, stringify(kc));
  return file;
}

describe('kubectl debuggrant', () => {
  let ns: string;
  let op: TestOperator;
  beforeAll(async () => {
    ns = await freshNamespace('cli');
    await createPod(ns, 'checkout-1', { app: 'checkout' });
    op = await startTestOperator([ns]);
  });
  afterAll(async () => {
    await op.stop();
  });

  test('new writes a grant that validate accepts and the API server takes from gitops', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dg-cli-')), 'grant.yaml');
    const made = await cli('admin', [
      'new',
      '--name',
      'from-cli',
      '-n',
      ns,
      '--user',
      'alice',
      '--selector',
      'app=checkout',
      '--image',
      DEBUG_IMAGE,
      '--ttl',
      '30m',
      '--reason',
      'INC-9 checkout errors, need tcpdump',
      '--approval',
      'https://git.example.com/pr/9',
      '--write',
      file,
    ]);
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

  // Each CLI run is its own Node process (slow on a loaded machine): independent runs go in parallel.
  test("-n defaults to the kubeconfig context's namespace; -l, -o name, yaml and wide", async () => {
    const inNamespace = kubeconfigWith((kc) => {
      for (const c of kc.contexts) c.context.namespace = ns;
    });
    const [listed, named, none, wideOut, yamlOut] = await Promise.all([
      cli('admin', ['--kubeconfig', inNamespace, 'list']),
      cli('admin', ['list', '-n', ns, '-o', 'name']),
      cli('admin', ['list', '-n', ns, '-l', 'team in (nobody)']),
      cli('admin', ['list', '-n', ns, '-o', 'wide']),
      cli('admin', ['list', '-n', ns, '-o', 'yaml']),
    ]);
    expect(listed.stdout).toMatch(/\nfrom-cli\s+User\/alice\s+Active/);
    expect(named.stdout).toBe('debuggrant.debuggrant.dev/from-cli\n');
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: `No DebugGrants found in ${ns} namespace.\n` });
    expect(wideOut.stdout).toMatch(/^NAME\s+SUBJECT\s+PHASE\s+PODS\s+TIME LEFT\s+REASON\s+EXPIRES AT\s+PROFILE\s+ACCESS\s+IMAGE\n/);
    expect(wideOut.stdout).toContain(`restricted  debug   ${DEBUG_IMAGE}`);
    const asYaml = parse(yamlOut.stdout) as { kind: string; items: { kind: string; metadata: { name: string } }[] };
    expect(asYaml.items.map((g) => `${g.kind}/${g.metadata.name}`)).toEqual(['DebugGrant/from-cli']);
  }, 180_000);

  test('version: the CLI, the API server, and where the operator is (not) found', async () => {
    const out = await cli('alice', ['version']);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`^Client Version: ${VERSION.replaceAll('.', '\\.')}\nKubernetes Version: v1\\.\\d+\\.\\d+`));
    expect(out.stdout).toMatch(/Operator Version: (no debuggrant operator Deployment found|unknown \(deployments\.apps is forbidden)/);
  });

  test('cluster errors name the kubeconfig file, context and server, and say what to do', async () => {
    const file = plane().kubeconfig;
    const port = await closedPort();
    const closed = kubeconfigWith((kc) => {
      for (const c of kc.clusters) c.cluster.server = `https://127.0.0.1:${String(port)}`;
    });
    const plain = kubeconfigWith((kc) => {
      for (const c of kc.clusters) c.cluster.server = 'http://127.0.0.1:9';
    });
    const badToken = kubeconfigWith((kc) => {
      for (const u of kc.users) u.user = { token: 'not-a-token' };
    });
    // A server address with a path prefix the API server does not serve (as a cluster without the
    // CRD answers): its plain-text 404, no Status.
    const served = parse(readFileSync(file, 'utf8')) as Kubeconfig;
    const server = served.clusters[0]?.cluster.server ?? '';
    const prefixed = kubeconfigWith((kc) => {
      for (const c of kc.clusters) c.cluster.server = `${c.cluster.server}/no-such-prefix`;
    });
    const [missing, unknown, unreachable, plainHttp, rejected, unserved] = await Promise.all([
      cli('admin', ['--kubeconfig', '/nonexistent/kubeconfig', 'list']),
      cli('admin', ['--context', 'alcie', 'list']),
      cli('admin', ['--kubeconfig', closed, 'list', '-n', ns]),
      cli('admin', ['--kubeconfig', plain, 'list']),
      cli('admin', ['--kubeconfig', badToken, 'list', '-n', ns]),
      cli('admin', ['--kubeconfig', prefixed, 'list', '-n', ns]),
    ]);
    expect(missing).toMatchObject({
      code: 1,
      stderr: "error: kubeconfig /nonexistent/kubeconfig does not exist: pass --kubeconfig FILE or set KUBECONFIG to your cluster's kubeconfig\n",
    });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`context "alcie" is not in kubeconfig ${file}; did you mean alice?`);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`cannot reach the API server at https://127.0.0.1:${String(port)} (context "admin" of ${closed}): `);
    expect(unreachable.stderr).toContain('check the server address, that the cluster is up, and your network or VPN');
    expect(plainHttp.stderr).toContain(`uses plain http (http://127.0.0.1:9): use its https:// address`);
    expect(rejected.stderr).toContain(`did not accept the credentials of user "admin": log in again or refresh the token in the kubeconfig`);
    expect(rejected.stderr).toContain(`(context "admin" of ${badToken})`);
    // Before: read by message text ("could not find the requested resource", client-go's words,
    // never this client's), so the user got the bare "404 page not found".
    expect(unserved.code).toBe(1);
    expect(unserved.stderr).toBe(
      `error: the cluster at ${server}/no-such-prefix (context "admin" of ${prefixed}) does not serve that API ` +
        `(HTTP 404 from GET /apis/debuggrant.dev/v1alpha1/namespaces/${ns}/debuggrants): ` +
        'install debuggrant (crds/ and config/), check the server address, or pick another --context\n',
    );
  }, 180_000);

  test("debug runs kubectl debug with the grant's image and profile", async () => {
    const out = await cli('alice', ['debug', 'checkout-1', '-n', ns, '--no-attach', '--kubectl', plane().kubectl, '--', '--container=via-cli']);
    expect(out.stderr).toContain(`using grant ${ns}/from-cli`);
    expect(out.code).toBe(0);
    const pod = await clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'checkout-1' });
    const added = pod.spec?.ephemeralContainers?.find((c) => c.name === 'via-cli');
    expect(added?.image).toBe(DEBUG_IMAGE);
    expect(added?.securityContext?.runAsNonRoot).toBe(true);
    // One deadline wrapper, the API server's (session-deadline.yaml), around the image's default shell.
    expect(added?.command?.[3]).toBe('debuggrant-deadline');
    expect(added?.command?.slice(4)).toEqual(['sh']);
    const bob = await cli('bob', ['debug', 'checkout-1', '-n', ns, '--no-attach', '--kubectl', plane().kubectl]);
    expect(bob.code).toBe(2);
    expect(bob.stderr).toContain(`bob has no active DebugGrant covering ${ns}/checkout-1`);
  });

  test('revoke ends the grant at once and prints the GitOps follow-up', async () => {
    const out = await cli('carol', ['revoke', 'from-cli', '-n', ns, '--reason', 'incident closed']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("delete the grant's file from the repository");
    const g = await eventually(
      () => getGrant(ns, 'from-cli'),
      (x) => x?.status?.phase === 'Revoked',
    );
    expect(g?.status?.conditions?.find((c) => c.type === 'Revoked')?.message).toBe('revoked by carol: incident closed');
    expect(g?.status?.revokedBy).toBe('carol');
    expect(await canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'checkout-1' })).toBe(false);
    expect(await allRbac(ns)).toEqual([]);
    // Revoking an ended grant says so and changes nothing.
    const again = await cli('admin', ['revoke', 'from-cli', '-n', ns, '--reason', 'twice']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${ns}/from-cli already ended (Revoked at `);
    expect(again.stdout).toContain('nothing changed');
    expect((await getGrant(ns, 'from-cli'))?.metadata.annotations).toMatchObject({
      'debuggrant.dev/revoke': 'incident closed',
      'debuggrant.dev/revoked-by': 'carol',
    });
  });

  test('audit lists standing debug access outside grants, not the grants themselves', async () => {
    const admin = clientsFor('admin');
    await createGrant(ns, 'audited', grantSpec({ ttl: '10m' }));
    await eventually(() => getGrant(ns, 'audited'), isReady);
    await admin.rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'legacy-exec' }, rules: [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] }] },
    });
    await admin.rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'legacy-exec' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'legacy-exec' },
        subjects: [{ kind: 'User', name: 'bob', apiGroup: 'rbac.authorization.k8s.io' }],
      },
    });
    const out = await cli('admin', ['audit', '-o', 'json']);
    expect(out.code).toBe(0);
    const findings = JSON.parse(out.stdout) as { subject: string; scope: string; privileges: string[]; binding: string }[];
    expect(findings).toContainEqual(expect.objectContaining({ subject: 'bob', scope: ns, privileges: ['exec'], binding: `RoleBinding/${ns}/legacy-exec` }));
    expect(findings.some((f) => f.binding.includes('debuggrant-audited'))).toBe(false);
    const table = await cli('admin', ['audit', '--include-system']);
    expect(table.stdout).toMatch(/system:masters\s+Group\s+cluster\s+cluster-admin-like/);
  });
});
