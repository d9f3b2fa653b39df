// /metrics as a cluster serves it: HTTPS, the caller's token authenticated by the API
// server (TokenReview) and authorized for `get /metrics` (SubjectAccessReview), with the
// shipped debuggrant:metrics-reader ClusterRole applied for real.
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../hack/controlplane/install.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { requestReviewer } from '../../src/kube/request-review.ts';
import { makeLogger } from '../../src/log.ts';
import { makeMetrics } from '../../src/metrics.ts';
import { serveMetrics } from '../../src/metrics-server.ts';
import { selfSignedCert } from '../../src/runtime/self-signed-cert.ts';
import { clientsFor, freshNamespace, kubeConfigFor, kubectl, plane } from '../support/cluster.ts';

interface Scrape {
  status: number;
  body: string;
  peerCert: string;
}

function scrape(port: number, opts: { token?: string; ca?: string; method?: string; path?: string } = {}): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/metrics',
        method: opts.method ?? 'GET',
        // Like Prometheus's insecureSkipVerify for the self-signed default; a given CA is verified.
        ...(opts.ca ? { ca: opts.ca, servername: 'localhost' } : { rejectUnauthorized: false }),
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      },
      (res) => {
        const peerCert = 'getPeerCertificate' in res.socket ? (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN : '';
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString('utf8');
        });
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body, peerCert: String(peerCert) });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const portOf = (s: Server): number => {
  const a = s.address();
  return typeof a === 'object' && a ? a.port : 0;
};

describe('secure metrics', () => {
  let ns: string;
  let server: Server;
  let readerToken: string;
  let strangerToken: string;
  const metrics = makeMetrics(
    () => ({ Active: 3 }),
    () => 0,
    false,
  );

  async function tokenFor(sa: string): Promise<string> {
    const core = clientsFor('admin').core;
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: sa } } });
    const t = await core.createNamespacedServiceAccountToken({
      namespace: ns,
      name: sa,
      body: { spec: { audiences: [plane().server], expirationSeconds: 3600 } },
    });
    return t.status?.token ?? '';
  }

  beforeAll(async () => {
    ns = await freshNamespace('metrics');
    const applied = await kubectl('admin', ['apply', '-f', join(REPO_ROOT, 'config/rbac/metrics-reader.yaml')]);
    expect(applied.code).toBe(0);
    readerToken = await tokenFor('prometheus');
    strangerToken = await tokenFor('stranger');
    const bound = await kubectl('admin', [
      'create',
      'clusterrolebinding',
      `${ns}-prometheus`,
      '--clusterrole=debuggrant:metrics-reader',
      `--serviceaccount=${ns}:prometheus`,
    ]);
    expect(bound.code).toBe(0);
    server = await serveMetrics({
      registry: metrics.registry,
      bind: { host: '127.0.0.1', port: 0 },
      log: makeLogger('silent'),
      secure: { reviewer: requestReviewer(fromKubeConfig(kubeConfigFor('admin'))) },
    });
  });
  afterAll(async () => {
    server.close();
    await kubectl('admin', ['delete', 'clusterrolebinding', `${ns}-prometheus`]);
  });

  test('a token allowed to get /metrics reads them over HTTPS', async () => {
    const r = await scrape(portOf(server), { token: readerToken });
    expect(r.status).toBe(200);
    expect(r.peerCert).toMatch(/^debuggrant-metrics@/);
    expect(r.body).toMatch(/^debuggrant_grants\{phase="Active"\} 3$/m);
    expect(r.body).toMatch(/^debuggrant_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m);
  });

  test('a valid token without the metrics-reader binding is refused 403, with the reason', async () => {
    const r = await scrape(portOf(server), { token: strangerToken });
    expect(r.status).toBe(403);
    expect(r.body).toContain(`system:serviceaccount:${ns}:stranger may not get /metrics`);
    expect(r.body).not.toContain('debuggrant_grants');
  });

  test('no token, or one the API server does not know, is refused 401', async () => {
    for (const token of [undefined, 'not-a-real-token']) {
      const r = await scrape(portOf(server), { token });
      expect(r.status).toBe(401);
      expect(r.body).not.toContain('debuggrant_grants');
    }
  });

  test('a user with a static token but no binding is refused; only GET/HEAD on /metrics', async () => {
    expect((await scrape(portOf(server), { token: plane().tokens.alice })).status).toBe(403);
    expect((await scrape(portOf(server), { token: readerToken, method: 'POST' })).status).toBe(405);
    expect((await scrape(portOf(server), { token: readerToken, path: '/debug' })).status).toBe(404);
  });

  test('plain HTTP to the metrics port gets nothing', async () => {
    const res = await fetch(`http://127.0.0.1:${String(portOf(server))}/metrics`).then(
      (r) => r.status,
      (err: unknown) => String(err),
    );
    expect(res).not.toBe(200);
  });

  test('a mounted certificate (metrics.certDir) is served and verifies against its CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-metrics-cert-'));
    const cert = selfSignedCert(['localhost']);
    writeFileSync(join(dir, 'tls.crt'), cert.cert);
    writeFileSync(join(dir, 'tls.key'), cert.key);
    const mounted = await serveMetrics({
      registry: metrics.registry,
      bind: { host: '127.0.0.1', port: 0 },
      log: makeLogger('silent'),
      secure: { reviewer: requestReviewer(fromKubeConfig(kubeConfigFor('admin'))), certDir: dir },
    });
    try {
      expect((await scrape(portOf(mounted), { token: readerToken, ca: cert.cert })).status).toBe(200);
      await expect(scrape(portOf(mounted), { token: readerToken, ca: selfSignedCert(['localhost']).cert })).rejects.toThrow(/signature|self.signed|verify/i);
    } finally {
      mounted.close();
    }
  });
});
