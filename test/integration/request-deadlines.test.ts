// What a request's deadline means, per lane, against the real API server behind the
// fault-injecting proxy (test/support/http-fault-proxy.ts), which holds chosen requests:
// - the Lease: the leader's renewals are bounded by its renew deadline, and leadership ends at
//   that deadline while a renewal hangs (not when the hung request finally times out);
// - the normal lane: a request waiting behind a revocation that does not finish fails unsent
//   after its request timeout, instead of waiting as long as the revocation does.
import { deletesFirst } from '../../src/revocation/index.ts';
import { fromKubeConfig, type KubeApi } from '../../src/kube/client.ts';
import { NotSentError } from '../../src/kube/connection.ts';
import { leaseStore } from '../../src/kube/lease.ts';
import { makeLogger } from '../../src/log.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { LeaderElector } from '../../src/runtime/leader-election.ts';
import { clientsFor, eventually, freshNamespace, kubeConfigFor } from '../support/cluster.ts';
import { HttpFaultProxy, type ProxiedRequest } from '../support/http-fault-proxy.ts';

const RENEW_DEADLINE_MS = 2_000;

describe('request deadlines per lane, through a proxy that holds requests', () => {
  let ns: string;
  let proxy: HttpFaultProxy;
  let api: KubeApi;
  beforeAll(async () => {
    ns = await freshNamespace('deadlines');
    proxy = await HttpFaultProxy.start(kubeConfigFor('admin'));
  });
  beforeEach(() => {
    api = fromKubeConfig(proxy.kubeConfig(kubeConfigFor('admin')));
  });
  afterEach(() => {
    api.connection.close();
  });
  afterAll(async () => {
    await proxy.close();
  });

  /** A leader on its own Lease in the test's namespace, with a 2 s renew deadline. */
  async function leaderOn(
    lease: string,
  ): Promise<{ elector: LeaderElector; renewed: () => ProxiedRequest[]; isLease: (r: ProxiedRequest) => boolean; lost: () => number | undefined }> {
    const isLease = (r: ProxiedRequest): boolean =>
      r.path.endsWith(`/namespaces/${ns}/leases/${lease}`) || (r.path.endsWith(`/namespaces/${ns}/leases`) && r.body.includes(`"${lease}"`));
    const elector = new LeaderElector({
      store: leaseStore(api, ns, lease, systemClock),
      identity: 'replica-a',
      clock: systemClock,
      log: makeLogger('silent'),
      leaseDurationMs: 3_000,
      renewDeadlineMs: RENEW_DEADLINE_MS,
      retryPeriodMs: 300,
    });
    let lostAt: number | undefined;
    elector.run({
      onStartedLeading: () => undefined,
      onStoppedLeading: () => {
        lostAt = Date.now();
      },
    });
    const renewed = (): ProxiedRequest[] => proxy.log.filter((r) => isLease(r) && r.method === 'PUT' && r.status === 200);
    await eventually(
      () => Promise.resolve(renewed().length),
      (n) => n >= 3,
    );
    return { elector, renewed, isLease, lost: () => lostAt };
  }

  test('the leader renews with one PUT each time, no read', async () => {
    const { elector, renewed, isLease } = await leaderOn('one-request-renewals');
    try {
      // Acquired with a read and a create; every renewal since is one replace.
      expect(proxy.log.filter(isLease).map((r) => r.method)).toEqual(['GET', 'POST', ...renewed().map(() => 'PUT')]);
    } finally {
      await elector.stop(false);
    }
  });

  test('while a renewal hangs, leadership ends at the renew deadline, and nothing more is sent for the Lease', async () => {
    const lease = 'held-renewals';
    const { elector, renewed, isLease, lost } = await leaderOn(lease);
    // Renewals now hang (queued in a saturated API server, say) until the fault clears.
    const clear = proxy.fail({ method: ['GET', 'PUT'], path: new RegExp(`/leases/${lease}$`) }, 'stall');
    try {
      const lostAt = await eventually(
        () => Promise.resolve(lost()),
        (t) => t !== undefined,
        20_000,
      );
      const lastRenewal = renewed().at(-1)?.receivedAt ?? NaN;
      // The renew deadline counts from the start of the last renewal, which the proxy received a
      // little later: leadership ends within it (plus a loaded machine's timer delay), not when
      // the hung request's 10 s timeout would end it.
      expect((lostAt ?? NaN) - lastRenewal).toBeLessThan(RENEW_DEADLINE_MS + 2_500);
      expect(proxy.log.filter((r) => isLease(r) && r.receivedAt > (lostAt ?? NaN))).toEqual([]);
    } finally {
      clear();
      await elector.stop(false);
    }
  });

  test('a normal-lane request waiting behind a revocation that does not finish fails unsent after its request timeout', async () => {
    api.connection.timeouts = { requestMs: 1_500, revocationMs: 500 };
    const lanes = deletesFirst(api, systemClock);
    const binding = 'held-delete';
    await clientsFor('admin').rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: { metadata: { name: binding }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [] },
    });
    const clear = proxy.fail({ method: 'DELETE', path: new RegExp(`/rolebindings/${binding}$`) }, 'stall');
    try {
      // A revocation in the urgent lane that the API server does not answer for 20 s.
      const revocation = lanes.urgentApi.rbac
        .deleteNamespacedRoleBinding({ namespace: ns, name: binding }, api.connection.within(20_000))
        .catch(() => undefined);
      await eventually(
        () => Promise.resolve(proxy.log.some((r) => r.method === 'DELETE' && r.path.endsWith(`/rolebindings/${binding}`))),
        (seen) => seen,
      );
      const asked = Date.now();
      const outcome = await lanes.api.rbac.readNamespacedRoleBinding({ namespace: ns, name: binding }).then(
        () => 'sent and answered',
        (err: unknown) => err,
      );
      const waited = Date.now() - asked;
      expect(outcome).toBeInstanceOf(NotSentError);
      expect(waited).toBeGreaterThanOrEqual(1_400);
      expect(waited).toBeLessThan(10_000);
      // Never sent: the proxy saw no read of it.
      expect(proxy.log.filter((r) => r.method === 'GET' && r.path.endsWith(`/rolebindings/${binding}`))).toEqual([]);
      clear();
      await revocation;
      // With the urgent lane empty again, the same read goes out at once.
      expect((await lanes.api.rbac.readNamespacedRoleBinding({ namespace: ns, name: binding })).metadata?.name).toBe(binding);
    } finally {
      clear();
    }
  });
});
