// The operator's own kubeconfig loading (src/kube/kubeconfig.ts): what it reads, what it
// refuses by name, and the token file read again as the kubelet rotates it (on an injected
// clock). That the API server accepts what it sends: test/integration/kubeconfig.test.ts.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import { ApiConnection } from '../../src/kube/connection.ts';
import { inClusterAccess, kubeconfigAccess, kubeconfigFiles, loadAccess, TOKEN_FILE_REREAD_MS, tokenFromFile } from '../../src/kube/kubeconfig.ts';
import { resourcePath } from '../../src/kube/rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'dg-kubeconfig-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function kubeconfig(name: string, doc: object): string {
  const file = join(dir, name);
  writeFileSync(file, stringify(doc));
  return file;
}

const oneContext = (cluster: object, user: object, extra: object = {}) => ({
  clusters: [{ name: 'c', cluster: { server: 'https://api.example:6443', ...cluster } }],
  users: [{ name: 'u', user }],
  contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
  'current-context': 'ctx',
  ...extra,
});

describe('kubeconfig files', () => {
  test('token and inline CA and client certificate', async () => {
    const file = kubeconfig(
      'inline.yaml',
      oneContext({ 'certificate-authority-data': b64('CA') }, { token: 'tok', 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }),
    );
    const access = kubeconfigAccess([file]);
    expect(access.server).toBe('https://api.example:6443');
    expect(await access.headers()).toEqual({ authorization: 'Bearer tok' });
    const tls = access.tls();
    expect([tls.ca?.toString(), tls.cert?.toString(), tls.key?.toString(), tls.rejectUnauthorized]).toEqual(['CA', 'CERT', 'KEY', undefined]);
  });

  test('files relative to the kubeconfig, read again for each new connection; a tokenFile read again after a minute', async () => {
    mkdirSync(join(dir, 'rel/pki'), { recursive: true });
    writeFileSync(join(dir, 'rel/pki/ca.crt'), 'CA1');
    writeFileSync(join(dir, 'rel/pki/me.crt'), 'CERT1');
    writeFileSync(join(dir, 'rel/pki/me.key'), 'KEY1');
    writeFileSync(join(dir, 'rel/token'), 'one\n');
    const file = kubeconfig(
      'rel/config',
      oneContext(
        { 'certificate-authority': 'pki/ca.crt', 'tls-server-name': 'kubernetes' },
        { 'client-certificate': 'pki/me.crt', 'client-key': 'pki/me.key', tokenFile: 'token' },
      ),
    );
    let now = 1_000_000;
    const access = kubeconfigAccess([file], undefined, () => now);
    expect(access.tls()).toMatchObject({ servername: 'kubernetes' });
    expect(access.tls().cert?.toString()).toBe('CERT1');
    writeFileSync(join(dir, 'rel/pki/me.crt'), 'CERT2');
    expect(access.tls().cert?.toString()).toBe('CERT2');
    expect(await access.headers()).toEqual({ authorization: 'Bearer one' });
    writeFileSync(join(dir, 'rel/token'), 'two\n');
    now += TOKEN_FILE_REREAD_MS - 1;
    expect(await access.headers()).toEqual({ authorization: 'Bearer one' });
    now += 1;
    expect(await access.headers()).toEqual({ authorization: 'Bearer two' });
  });

  test('insecure-skip-tls-verify: no CA, the certificate is not checked; plain http only with it', () => {
    const insecure = kubeconfigAccess([kubeconfig('insecure.yaml', oneContext({ 'insecure-skip-tls-verify': true, server: 'http://127.0.0.1:8080' }, {}))]);
    expect([insecure.tls().rejectUnauthorized, insecure.tls().ca]).toEqual([false, undefined]);
    expect(() => kubeconfigAccess([kubeconfig('http.yaml', oneContext({ server: 'http://127.0.0.1:8080' }, {}))])).toThrow(
      /cluster "c" in kubeconfig .*http.yaml uses plain http \(http:\/\/127.0.0.1:8080\): use its https:\/\/ address/,
    );
  });

  test.each([
    ['auth-provider', { 'auth-provider': { name: 'oidc' } }, 'an auth-provider plugin'],
    ['username', { username: 'admin', password: 'x' }, 'basic authentication'],
    ['as', { token: 't', as: 'someone' }, 'impersonation'],
  ])('a user with %s is refused by name, at load', (field, user, what) => {
    const file = kubeconfig(`${field}.yaml`, oneContext({}, user));
    expect(() => kubeconfigAccess([file])).toThrow(`user "u" in kubeconfig ${file} uses ${what} (${field}), which the operator does not support`);
  });

  test('proxy-url is refused by name', () => {
    const file = kubeconfig('proxy.yaml', oneContext({ 'proxy-url': 'socks5://p:1080' }, {}));
    expect(() => kubeconfigAccess([file])).toThrow(`cluster "c" in kubeconfig ${file} uses proxy-url, which the operator does not support`);
  });

  test('contexts: the current one, another by name, clear errors for what is missing', () => {
    const doc = oneContext({}, { token: 'a' });
    const file = kubeconfig('contexts.yaml', {
      ...doc,
      contexts: [...doc.contexts, { name: 'lost', context: { cluster: 'nowhere', user: 'u' } }, { name: 'nobody', context: { cluster: 'c', user: 'ghost' } }],
    });
    expect(kubeconfigAccess([file], 'ctx').server).toBe('https://api.example:6443');
    expect(() => kubeconfigAccess([file], 'other')).toThrow(`context "other" is not in kubeconfig ${file} (contexts: ctx, lost, nobody)`);
    expect(() => kubeconfigAccess([file], 'lost')).toThrow(`context "lost" names cluster "nowhere", which kubeconfig ${file} does not define`);
    expect(() => kubeconfigAccess([file], 'nobody')).toThrow(`context "nobody" names user "ghost", which kubeconfig ${file} does not define`);
    const none = kubeconfig('no-current.yaml', { ...doc, 'current-context': undefined });
    expect(() => kubeconfigAccess([none])).toThrow(`kubeconfig ${none} has no current-context`);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'clusters: 7\n');
    expect(() => kubeconfigAccess([broken])).toThrow(`kubeconfig ${broken} is not a kubeconfig`);
    expect(() => kubeconfigAccess([join(dir, 'absent.yaml')])).toThrow(`kubeconfig ${join(dir, 'absent.yaml')} cannot be read`);
  });

  test('several files merge as kubectl merges them: the first to name something wins', async () => {
    const first = kubeconfig('first.yaml', { users: [{ name: 'u', user: { token: 'first' } }], 'current-context': 'ctx' });
    const second = kubeconfig('second.yaml', { ...oneContext({}, { token: 'second' }), 'current-context': 'elsewhere' });
    expect(await kubeconfigAccess([first, second]).headers()).toEqual({ authorization: 'Bearer first' });
    expect(kubeconfigFiles(undefined, { KUBECONFIG: [join(dir, 'absent'), first, second].join(':') })).toEqual([first, second]);
    expect(kubeconfigFiles('/given', { KUBECONFIG: first })).toEqual(['/given']);
  });
});

/** Asks until the answer is accepted (a background plugin run finishing), for at most 10 s. */
async function eventuallyValue<T>(probe: () => Promise<T>, accept: (v: T) => boolean): Promise<T> {
  const until = Date.now() + 10_000;
  for (;;) {
    const v = await probe();
    if (accept(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('exec credential plugins', () => {
  /** A plugin (a real process) that counts its runs and prints what it was given in its token. */
  function plugin(name: string, body: string): string {
    const file = join(dir, 'plugins', name);
    mkdirSync(join(dir, 'plugins'), { recursive: true });
    writeFileSync(file, `#!/bin/sh\necho run >> "${file}.runs"\n${body}\n`, { mode: 0o755 });
    return file;
  }
  const runs = (file: string): number => (existsSync(`${file}.runs`) ? readFileSync(`${file}.runs`, 'utf8').split('\n').filter(Boolean).length : 0);
  const execUser = (command: string, extra: object = {}) => ({
    exec: { apiVersion: 'client.authentication.k8s.io/v1', command, args: ['--cluster', 'prod'], env: [{ name: 'TEAM', value: 'ops' }], ...extra },
  });

  test('its token, run with its args, env and KUBERNETES_EXEC_INFO; used until it expires, then the plugin runs again', async () => {
    const file = plugin(
      'token',
      `info=$(echo "$KUBERNETES_EXEC_INFO" | tr -d '" ')\n` +
        `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s-%s-%s-%s","expirationTimestamp":"2026-12-05T01:00:00Z"}}' "$1" "$2" "$TEAM" "$(cat "${join(dir, 'plugins', 'token')}.runs" | wc -l | tr -d ' ')-$info"`,
    );
    let now = Date.parse('2026-12-05T00:50:00Z');
    const access = kubeconfigAccess([kubeconfig('exec.yaml', oneContext({}, execUser(file)))], undefined, () => now);
    const first = await Promise.all([access.headers(), access.headers()]);
    expect(first[0]).toEqual({
      authorization: 'Bearer --cluster-prod-ops-1-{apiVersion:client.authentication.k8s.io/v1,kind:ExecCredential,spec:{interactive:false}}',
    });
    expect(first[1]).toEqual(first[0]);
    expect(runs(file)).toBe(1); // two requests at once, one run
    now = Date.parse('2026-12-05T00:59:49Z');
    expect(await access.headers()).toEqual(first[0]);
    expect(runs(file)).toBe(1);
    now = Date.parse('2026-12-05T00:59:51Z'); // within 10 s of its expiry: still valid, it serves while the plugin runs
    expect(await access.headers()).toEqual(first[0]);
    const renewed = await eventuallyValue(
      async () => (await access.headers()).authorization ?? '',
      (a) => a.includes('-ops-2-'),
    );
    expect(renewed).toContain('-ops-2-');
    now = Date.parse('2026-12-05T01:00:00Z'); // the new ones expire then too: at it, a request waits for a fresh run
    expect((await access.headers()).authorization).not.toBe(renewed);
  });

  test('a token the API server refused (401) is dropped: the next request runs the plugin again', async () => {
    const file = plugin('refused', `printf '{"status":{"token":"t%s"}}' "$(cat "${join(dir, 'plugins', 'refused')}.runs" | wc -l | tr -d ' ')"`);
    const access = kubeconfigAccess([kubeconfig('exec-refused.yaml', oneContext({}, execUser(file)))]);
    expect(await access.headers()).toEqual({ authorization: 'Bearer t1' });
    expect(await access.headers()).toEqual({ authorization: 'Bearer t1' });
    access.refused?.();
    expect(await access.headers()).toEqual({ authorization: 'Bearer t2' });
    expect(runs(file)).toBe(2);
  });

  test('a request answered 401 drops the token it carried: the next request carries a fresh one', async () => {
    const file = plugin('rotated', `printf '{"status":{"token":"r%s"}}' "$(cat "${join(dir, 'plugins', 'rotated')}.runs" | wc -l | tr -d ' ')"`);
    // An API server that already revoked the plugin's first token.
    const server = createServer((req, res) => {
      res.writeHead(req.headers.authorization === 'Bearer r2' ? 200 : 401, { 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const connection = new ApiConnection(
      kubeconfigAccess([
        kubeconfig('exec-401.yaml', oneContext({ server: `http://127.0.0.1:${String(port)}`, 'insecure-skip-tls-verify': true }, execUser(file))),
      ]),
    );
    try {
      expect((await connection.request({ method: 'GET', path: '/version' })).status).toBe(401);
      expect((await connection.request({ method: 'GET', path: '/version' })).status).toBe(200);
    } finally {
      connection.close();
      server.close();
    }
  });

  test('a relative command with a slash is relative to the kubeconfig', async () => {
    plugin('relative', `echo '{"status":{"token":"rel"}}'`);
    const access = kubeconfigAccess([kubeconfig('exec-relative.yaml', oneContext({}, execUser('./plugins/relative')))]);
    expect(await access.headers()).toEqual({ authorization: 'Bearer rel' });
  });

  test('a failing plugin, one that prints no credential, and one that gives a client certificate: clear errors', async () => {
    const where = (f: string, k: string) => `the exec credential plugin ${f} of user "u" in kubeconfig ${k}`;
    const failing = plugin('failing', `echo 'error: SSO session expired, run aws sso login' >&2; exit 3`);
    const k1 = kubeconfig('exec-failing.yaml', oneContext({}, execUser(failing)));
    await expect(kubeconfigAccess([k1]).headers()).rejects.toThrow(
      `${where(failing, k1)} failed: Command failed: ${failing} --cluster prod: error: SSO session expired, run aws sso login`,
    );
    const silent = plugin('silent', 'echo hello');
    const k2 = kubeconfig('exec-silent.yaml', oneContext({}, execUser(silent)));
    await expect(kubeconfigAccess([k2]).headers()).rejects.toThrow(`${where(silent, k2)} printed no ExecCredential with a status`);
    const certs = plugin('certs', `echo '{"status":{"clientCertificateData":"x","clientKeyData":"y"}}'`);
    const k3 = kubeconfig('exec-certs.yaml', oneContext({}, execUser(certs)));
    await expect(kubeconfigAccess([k3]).headers()).rejects.toThrow(
      `${where(certs, k3)} answers with a client certificate, which the operator does not support`,
    );
    const absent = join(dir, 'plugins', 'absent');
    await expect(kubeconfigAccess([kubeconfig('exec-absent.yaml', oneContext({}, execUser(absent)))]).headers()).rejects.toThrow(
      /failed: spawn .*absent ENOENT/,
    );
    expect(() => kubeconfigAccess([kubeconfig('exec-bad.yaml', oneContext({}, { exec: { command: 'aws' } }))])).toThrow(/is not a kubeconfig: .*apiVersion/);
  });
});

describe('in the cluster', () => {
  const sa = join(dir, 'sa');
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'ca.crt'), 'CLUSTER-CA');
  writeFileSync(join(sa, 'token'), 'sa-token');

  test('KUBERNETES_SERVICE_HOST/PORT, the mounted CA and token', async () => {
    const access = inClusterAccess({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, sa);
    expect(access.server).toBe('https://10.96.0.1:443');
    expect(access.tls().ca?.toString()).toBe('CLUSTER-CA');
    expect(await access.headers()).toEqual({ authorization: 'Bearer sa-token' });
    expect(inClusterAccess({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, sa).server).toBe('https://[fd00::1]:443');
  });

  test('chosen when there is no kubeconfig; a clear error when neither is there', () => {
    const env = { HOME: join(dir, 'nohome'), KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    expect(loadAccess({ env, serviceAccountDir: sa }).server).toBe('https://10.96.0.1:443');
    expect(() => loadAccess({ env: { HOME: join(dir, 'nohome') } })).toThrow(
      'no kubeconfig (DEBUGGRANT_KUBECONFIG, KUBECONFIG, ~/.kube/config) and not running in a cluster (KUBERNETES_SERVICE_HOST is not set)',
    );
    expect(() => loadAccess({ env: { ...env, KUBECONFIG: join(dir, 'absent') } })).toThrow(
      `none of the kubeconfig files in KUBECONFIG (${join(dir, 'absent')}) exists`,
    );
    expect(() => inClusterAccess(env, join(dir, 'no-sa'))).toThrow(`no ServiceAccount token at ${join(dir, 'no-sa', 'token')}`);
  });

  test('a token file that cannot be read again keeps the last token; one never read is an error', () => {
    let now = 0;
    const file = join(dir, 'rotating');
    writeFileSync(file, 'first');
    const token = tokenFromFile(file, () => now);
    expect(token.get()).toBe('first');
    rmSync(file);
    now += TOKEN_FILE_REREAD_MS;
    expect(token.get()).toBe('first');
    writeFileSync(file, 'second');
    expect(token.get()).toBe('second');
    expect(() => tokenFromFile(join(dir, 'never')).get()).toThrow(`token file ${join(dir, 'never')} cannot be read`);
  });

  test('a token file whose token the API server refused (401) is read again at the next request, not a minute later', () => {
    const file = join(dir, 'refused');
    writeFileSync(file, 'old');
    const token = tokenFromFile(file, () => 0);
    expect(token.get()).toBe('old');
    writeFileSync(file, 'rotated');
    expect(token.get()).toBe('old');
    token.forget();
    expect(token.get()).toBe('rotated');
  });
});

describe('resource paths', () => {
  test.each([
    [{ version: 'v1', plural: 'pods', namespace: 'shop', name: 'web-1', subresource: 'eviction' }, '/api/v1/namespaces/shop/pods/web-1/eviction'],
    [{ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings' }, '/apis/rbac.authorization.k8s.io/v1/rolebindings'],
    [
      { group: 'debuggrant.dev', version: 'v1alpha1', plural: 'debuggrants', namespace: 'a b', name: 'x/y' },
      '/apis/debuggrant.dev/v1alpha1/namespaces/a%20b/debuggrants/x%2Fy',
    ],
  ])('%j is %s', (resource, path) => {
    expect(resourcePath(resource)).toBe(path);
  });
});
