// A 404 that is not the API server's own NotFound Status (a proxy's HTML page for a path it
// cannot route: a misconfigured Rancher /k8s/clusters/… prefix) says nothing about the object.
// The operator, reaching the real API server through a proxy that answers chosen requests
// that way, must neither take such an answer as "gone" nor as a refusal it retries only after
// minutes: once the proxy routes again, the work completes. (Each test failed on the code
// before: the grant stayed unready for the 5 minutes of a permanent error, or kept its finalizer.)
import { GROUP, VERSION } from '../../src/api/schema.ts';
import { createPod, eventually, freshNamespace, kubeConfigFor } from '../support/cluster.ts';
import { createGrant, deleteGrant, getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { HttpFaultProxy, matches, type RequestMatch } from '../support/http-fault-proxy.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

describe("a proxy's HTML 404 is retried, never read as gone", () => {
  let proxy: HttpFaultProxy;
  let ns: string;
  let op: TestOperator;
  beforeAll(async () => {
    proxy = await HttpFaultProxy.start(kubeConfigFor('admin'));
    ns = await freshNamespace('p404');
    await createPod(ns, 'web-1', { app: 'checkout' });
    op = await startTestOperator([ns], {}, { kubeConfig: proxy.kubeConfig(kubeConfigFor('admin')) });
  });
  afterAll(async () => {
    await op.stop();
    await proxy.close();
  });

  /**
   * Fails `match` with the proxy's 404 page until `settled()` holds (nothing left that an
   * event could still wake the grant for) and then until the operator has sent the request once
   * more a second later still, on its own (a retry, not a reaction to an event); then clears it.
   */
  async function proxy404Until(match: RequestMatch, settled: () => Promise<boolean>): Promise<void> {
    const clear = proxy.fail(match, 'proxy 404');
    try {
      await eventually(settled, Boolean, 15_000);
      const quietFrom = Date.now() + 1000;
      await eventually(
        () => Promise.resolve(proxy.log.some((r) => r.fault === 'proxy 404' && matches(match, r) && r.receivedAt >= quietFrom)),
        Boolean,
        15_000,
      );
    } finally {
      clear();
    }
  }

  test('a status write answered with it is retried soon, and the grant is Ready once the path routes again (it was a refusal retried after 5 min)', async () => {
    const statusWrite: RequestMatch = { method: 'PATCH', path: new RegExp(`^/apis/${GROUP}/${VERSION}/namespaces/${ns}/debuggrants/status-404/status$`) };
    const faulted = proxy404Until(statusWrite, async () => {
      const { role, binding } = await rbacFor(ns, 'status-404');
      return role && binding;
    });
    await createGrant(ns, 'status-404', grantSpec({ ttl: '10m' }));
    await faulted;
    const grant = await eventually(() => getGrant(ns, 'status-404'), isReady, 15_000);
    expect(grant?.status?.conditions?.find((c) => c.type === 'Failing')).toBeUndefined();
  });

  test("the finalizer's removal answered with it is retried, and the deleted grant goes once the path routes again (it was taken as gone, and stayed)", async () => {
    // Another subject than the first test's grant (still active): its revocation is then verified, with no access left.
    await createGrant(ns, 'finalizer-404', grantSpec({ ttl: '10m', subject: { kind: 'User', name: 'bob' } }));
    await eventually(() => getGrant(ns, 'finalizer-404'), isReady, 15_000);
    const finalizerPatch: RequestMatch = { method: 'PATCH', path: new RegExp(`^/apis/${GROUP}/${VERSION}/namespaces/${ns}/debuggrants/finalizer-404$`) };
    // Settled: its access gone and verified gone (no further look is due).
    const faulted = proxy404Until(finalizerPatch, async () => {
      const g = await getGrant(ns, 'finalizer-404');
      return g?.status?.conditions?.find((c) => c.type === 'RevocationVerified')?.status === 'True';
    });
    await deleteGrant(ns, 'finalizer-404');
    await faulted;
    await eventually(
      () => getGrant(ns, 'finalizer-404'),
      (g) => g === undefined,
      15_000,
    );
  });
});
