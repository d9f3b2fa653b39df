// The pieces of the secure metrics server that need no cluster: the self-signed serving
// certificate and the verdict cache (the authn/authz itself is tested against the real API
// server in test/integration/metrics-auth.test.ts).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { cachedReviewer } from '../../src/metrics-server.ts';
import type { NonResourceRequest, RequestVerdict } from '../../src/kube/request-review.ts';
import { selfSignedCert } from '../../src/runtime/self-signed-cert.ts';

describe('self-signed serving certificate', () => {
  test('is a valid X.509 v3 certificate for the given names, signed by its own key, for a year', () => {
    const now = new Date('2026-11-24T12:00:00Z');
    const { cert, key } = selfSignedCert(['localhost', '127.0.0.1', 'pod-a'], now);
    const x = new X509Certificate(cert);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(x.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, DNS:pod-a');
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new Date(x.validFrom).getTime()).toBeLessThanOrEqual(now.getTime());
    expect(new Date(x.validTo).getTime() - now.getTime()).toBe(365 * 24 * 3600_000);
    expect(x.ca).toBe(false);
  });

  test('each call makes a new key and serial', () => {
    const a = new X509Certificate(selfSignedCert(['localhost']).cert);
    const b = new X509Certificate(selfSignedCert(['localhost']).cert);
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(a.fingerprint256).not.toBe(b.fingerprint256);
  });

  test('every random serial is a minimal positive DER integer (1 in 512 was padded before)', () => {
    // X509Certificate refuses a padded or negative serial with "illegal padding".
    const serials = new Set(Array.from({ length: 2000 }, () => new X509Certificate(selfSignedCert(['localhost']).cert).serialNumber));
    expect(serials.size).toBe(2000);
  });
});

describe('verdict cache', () => {
  const ask = (token: string): NonResourceRequest => ({ token, path: '/metrics', verb: 'get' });

  test('reuses a verdict for the same token for 10 s, then asks again; other tokens are asked', async () => {
    let now = 0;
    const asked: string[] = [];
    const review = cachedReviewer(
      (r): Promise<RequestVerdict> => {
        asked.push(r.token);
        return Promise.resolve(r.token === 'good' ? { allowed: true, user: 'prom' } : { allowed: false, status: 403, reason: 'no' });
      },
      () => now,
    );
    expect(await review(ask('good'))).toEqual({ allowed: true, user: 'prom' });
    expect(await review(ask('bad'))).toMatchObject({ allowed: false, status: 403 });
    now = 9_999;
    await review(ask('good'));
    expect(asked).toEqual(['good', 'bad']);
    now = 10_000;
    await review(ask('good'));
    expect(asked).toEqual(['good', 'bad', 'good']);
  });

  test('an API error is not cached', async () => {
    let calls = 0;
    const review = cachedReviewer(
      () => {
        calls++;
        return Promise.reject(new Error('apiserver down'));
      },
      () => 0,
    );
    await expect(review(ask('t'))).rejects.toThrow('apiserver down');
    await expect(review(ask('t'))).rejects.toThrow('apiserver down');
    expect(calls).toBe(2);
  });
});
