// The operator's own kubeconfig loading (src/kube/kubeconfig.ts) against the real API server:
// who the API server says the operator is (SelfSubjectReview) for each kind of credentials
// (client certificates, tokenFile, an exec plugin),
// the in-cluster ServiceAccount token read again after the kubelet rotates it, and TLS
// checked unless the kubeconfig says otherwise. (Parsing and refusals: test/unit/kubeconfig.test.ts.)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { apiFor, type KubeApi } from '../../src/kube/client.ts';
import { describeFailure } from '../../src/kube/failure.ts';
import { inClusterAccess, kubeconfigAccess, TOKEN_FILE_REREAD_MS, type ClusterAccess } from '../../src/kube/kubeconfig.ts';
import { whoAmI } from '../../src/kube/queries.ts';
import { clientsFor, freshNamespace, plane } from '../support/cluster.ts';
import { serviceAccountMount, serviceAccountToken } from '../support/service-account-operator.ts';

const opened: KubeApi[] = [];
const client = (access: ClusterAccess): KubeApi => {
  const api = apiFor(access);
  opened.push(api);
  return api;
};
afterAll(() => {
  for (const api of opened) api.connection.close();
});

const dir = mkdtempSync(join(tmpdir(), 'dg-kubeconfig-it-'));
const server = new URL(plane().server);

function kubeconfigFile(name: string, cluster: object, user: object): string {
  const file = join(dir, name, 'config');
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(
    file,
    stringify({
      clusters: [{ name: 'local', cluster: { server: plane().server, ...cluster } }],
      users: [{ name: 'me', user }],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'me' } }],
      'current-context': 'local',
    }),
  );
  return file;
}

describe('in the cluster', () => {
  test('the ServiceAccount token file is read again once a minute: a rotated token is used from then on', async () => {
    const ns = await freshNamespace('incluster');
    for (const name of ['before', 'after']) await clientsFor('admin').core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
    const mount = serviceAccountMount(await serviceAccountToken(ns, 'before'), readFileSync(plane().caFile, 'utf8'));
    let now = Date.now();
    const api = client(inClusterAccess({ KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port }, mount, () => now));
    expect((await whoAmI(api)).username).toBe(`system:serviceaccount:${ns}:before`);
    // The kubelet writes the new token in place.
    writeFileSync(join(mount, 'token'), await serviceAccountToken(ns, 'after'));
    now += TOKEN_FILE_REREAD_MS - 1_000;
    expect((await whoAmI(api)).username).toBe(`system:serviceaccount:${ns}:before`);
    now += 1_000;
    const after = await whoAmI(api);
    expect(after.username).toBe(`system:serviceaccount:${ns}:after`);
    expect(after.groups).toContain(`system:serviceaccounts:${ns}`);
  });
});

describe('kubeconfig files', () => {
  test('client certificate and key files, relative to the kubeconfig, with its CA file', async () => {
    const file = kubeconfigFile('certs', { 'certificate-authority': 'ca.crt' }, { 'client-certificate': 'pki/me.crt', 'client-key': 'pki/me.key' });
    const base = join(dir, 'certs');
    mkdirSync(join(base, 'pki'));
    copyFileSync(plane().caFile, join(base, 'ca.crt'));
    const pki = join(plane().dir, 'pki');
    const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/O=cert-team/CN=cert-user', '-keyout', join(base, 'pki/me.key'), '-out', join(base, 'me.csr')]);
    openssl([
      'x509',
      '-req',
      '-in',
      join(base, 'me.csr'),
      '-CA',
      join(pki, 'ca.crt'),
      '-CAkey',
      join(pki, 'ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      join(base, 'pki/me.crt'),
    ]);
    const me = await whoAmI(client(kubeconfigAccess([file])));
    expect(me.username).toBe('cert-user');
    expect(me.groups).toContain('cert-team');
  });

  test('a tokenFile, and the CA inline', async () => {
    const tokenFile = join(dir, 'admin-token');
    writeFileSync(tokenFile, `${plane().tokens.admin ?? ''}\n`);
    const file = kubeconfigFile('token-file', { 'certificate-authority-data': readFileSync(plane().caFile).toString('base64') }, { tokenFile });
    expect((await whoAmI(client(kubeconfigAccess([file])))).username).toBe('admin');
  });

  test('an exec credential plugin giving a token', async () => {
    const command = join(dir, 'get-token');
    writeFileSync(
      command,
      `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${plane().tokens.alice ?? ''}"}}'\n`,
      { mode: 0o755 },
    );
    const file = kubeconfigFile('exec', { 'certificate-authority': plane().caFile }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command } });
    expect((await whoAmI(client(kubeconfigAccess([file])))).username).toBe('alice');
  });

  test('without the CA the server is not trusted (a TLS failure, said so); insecure-skip-tls-verify skips the check', async () => {
    const untrusted = client(kubeconfigAccess([kubeconfigFile('no-ca', {}, { token: plane().tokens.admin })]));
    const err = await whoAmI(untrusted).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(describeFailure(err, plane().server)).toMatch(
      /^TLS failure talking to https:\/\/127\.0\.0\.1:\d+: .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT)\)$/,
    );
    const insecure = client(kubeconfigAccess([kubeconfigFile('insecure', { 'insecure-skip-tls-verify': true }, { token: plane().tokens.admin })]));
    expect((await whoAmI(insecure)).username).toBe('admin');
  });
});
