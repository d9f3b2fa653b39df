// Revocation when the API server is slow to answer, not stalled: a validating admission
// webhook (hack/slow-webhook.ts) holds every RoleBinding DELETE in the test's namespace for
// 1.5 s, three times the revocation timeout, as a busy policy engine does (and as API Priority
// and Fairness does to a request queued behind full seats). The API server drops a request
// whose client has gone away, so a delete abandoned at the revocation timeout never happens:
// access must still end, within the server's own delay plus a margin. SubjectAccessReview,
// asked directly, judges.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startSlowWebhook, type SlowWebhook } from '../../hack/slow-webhook.ts';
import { canI, clientsFor, createPod, eventually, freshNamespace, kubectl } from '../support/cluster.ts';
import { createGrant, getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const DELAY_MS = 1500;
const WEBHOOK = 'debuggrant-test-slow-rolebinding-deletes';

const canDebug = (ns: string): Promise<boolean> =>
  canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'api-1' });

describe('an API server slow to answer RoleBinding deletes', () => {
  let ns: string;
  let dir: string;
  let webhook: SlowWebhook;
  let op: TestOperator | undefined;

  beforeAll(async () => {
    ns = await freshNamespace('slow-api');
    await createPod(ns, 'api-1', { app: 'checkout' });
    dir = mkdtempSync(join(tmpdir(), 'debuggrant-slow-webhook-'));
    webhook = await startSlowWebhook(dir, DELAY_MS);
    const applied = await kubectl(
      'admin',
      ['apply', '--server-side', '-f', '-'],
      stringify(webhook.configuration(WEBHOOK, ns, { operations: ['DELETE'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'] })),
    );
    expect(applied.code).toBe(0);
    // In force once a delete in the namespace waits for it (the API server reads webhook configurations from its cache).
    const rbac = clientsFor('admin').rbac;
    await eventually(
      async () => {
        await rbac.createNamespacedRoleBinding({
          namespace: ns,
          body: { metadata: { name: 'probe' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [] },
        });
        const started = Date.now();
        await rbac.deleteNamespacedRoleBinding({ namespace: ns, name: 'probe' });
        return Date.now() - started;
      },
      (took) => took >= DELAY_MS,
      30_000,
      200,
    );
  });
  afterEach(async () => {
    await op?.stop();
    op = undefined;
  });
  afterAll(async () => {
    await kubectl('admin', ['delete', 'validatingwebhookconfiguration', WEBHOOK, '--ignore-not-found']);
    await webhook.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the deadline's delete is waited for, not abandoned at the revocation timeout: access ends within the server's delay plus 3 s", async () => {
    op = await startTestOperator([ns]);
    expect(op.config.api.revocationTimeout).toBe('500ms');
    await createGrant(ns, 'slow', grantSpec({ ttl: '4s' }));
    const active = await eventually(() => getGrant(ns, 'slow'), isReady);
    const expiresAt = Date.parse(active?.status?.expiresAt ?? '');
    expect(await canDebug(ns)).toBe(true);
    const answeredBefore = webhook.answered;

    await eventually(
      () => canDebug(ns),
      (allowed) => !allowed,
      60_000,
      20,
    );
    const lateness = Date.now() - expiresAt;
    process.stderr.write(
      `[slow-api] RoleBinding deletes held ${String(DELAY_MS)} ms by the API server: access ended ${String(lateness)} ms after the deadline\n`,
    );
    expect(lateness).toBeLessThan(DELAY_MS + 3000);
    // The webhook saw the operator's deletes (so they were slow), and at most three at once went out.
    expect(webhook.answered).toBeGreaterThan(answeredBefore);
    const ended = await eventually(
      () => getGrant(ns, 'slow'),
      (g) => g?.status?.phase === 'Expired',
      30_000,
    );
    expect(ended?.status?.expiresAt).toBe(active?.status?.expiresAt);
    expect(await rbacFor(ns, 'slow')).toEqual({ role: false, binding: false });
  });
});
