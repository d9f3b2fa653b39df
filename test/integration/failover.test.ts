// Revocation does not wait for leadership: two operator processes share one Lease, the
// standby keeps every recorded deadline armed and deletes due RoleBindings itself. The
// leader is killed (SIGKILL: no drain, no Lease release) just before a deadline.
import type { OperatorProcess } from '../../hack/operator-process.ts';
import { parseConfig } from '../../src/config.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { makeLogger } from '../../src/log.ts';
import { Manager } from '../../src/manager.ts';
import { withFaults, type ApiCall } from '../support/api-faults.ts';
import { canI, clientsFor, createPod, eventually, freshNamespace, kubeConfigFor } from '../support/cluster.ts';
import { createGrant, getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { APPROVED_REGISTRY, spawnTestOperator } from '../support/operator.ts';

const canDebug = (ns: string): Promise<boolean> =>
  canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'api-1' });

describe('two replicas, the leader killed near a deadline', () => {
  let ns: string;
  let leaseNs: string;
  const replicas: OperatorProcess[] = [];

  beforeAll(async () => {
    ns = await freshNamespace('failover');
    leaseNs = await freshNamespace('failover-lease');
    await createPod(ns, 'api-1', { app: 'checkout' });
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });

  const leaseHolder = async (): Promise<string | undefined> => {
    try {
      return (await clientsFor('admin').coordination.readNamespacedLease({ namespace: leaseNs, name: 'debuggrant-operator' })).spec?.holderIdentity;
    } catch {
      return undefined;
    }
  };

  test('the standby revokes within 2 s of the deadline, long before the 15 s Lease lapses; the new leader records the expiry', async () => {
    // The shipped lease duration: waiting for it would make revocation 15 s late.
    const config = { leaderElection: { enabled: true, namespace: leaseNs, leaseName: 'debuggrant-operator', leaseDuration: '15s' } };
    const [a, b] = await Promise.all([spawnTestOperator('failover-a', [ns], config), spawnTestOperator('failover-b', [ns], config)]);
    replicas.push(a, b);
    await Promise.all([a.waitUntilReady(), b.waitUntilReady()]);
    const holder = await eventually(leaseHolder, (h) => h === 'failover-a' || h === 'failover-b');
    const [leader, standby] = holder === 'failover-a' ? [a, b] : [b, a];

    await createGrant(ns, 'near-deadline', grantSpec({ ttl: '5s' }));
    const active = await eventually(() => getGrant(ns, 'near-deadline'), isReady);
    const expiresAt = Date.parse(active?.status?.expiresAt ?? '');
    expect(await canDebug(ns)).toBe(true);

    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() - 500)));
    await leader.kill();
    await eventually(
      () => canDebug(ns),
      (allowed) => !allowed,
      20_000,
      20,
    );
    const lateness = Date.now() - expiresAt;
    process.stderr.write(`[failover] leader killed 500 ms before the deadline: access ended ${String(lateness)} ms after it\n`);
    expect(lateness).toBeLessThan(2000);
    expect(await leaseHolder()).toBe(holder); // the Lease had not lapsed: the standby did it as a standby

    // Once the Lease lapses the standby leads and writes the record.
    const ended = await eventually(
      () => getGrant(ns, 'near-deadline'),
      (g) => g?.status?.phase === 'Expired',
      40_000,
      200,
    );
    expect(ended?.status?.expiresAt).toBe(active?.status?.expiresAt);
    expect(await leaseHolder()).not.toBe(holder);
    expect(await rbacFor(ns, 'near-deadline')).toEqual({ role: false, binding: false });
    expect(await standby.ready()).toBe(true);
  });

  test('a graceful stop finishes the work in flight before it releases the Lease', async () => {
    const drainNs = await freshNamespace('drain');
    await createPod(drainNs, 'api-1', { app: 'checkout' });
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const calls: ApiCall[] = [];
    // The first status write of the grant is held back: a reconcile in flight.
    let first = true;
    const api = withFaults(
      fromKubeConfig(kubeConfigFor('admin')),
      [
        {
          operation: 'patchNamespacedCustomObjectStatus',
          when: () => first,
          before: async () => {
            first = false;
            await held;
          },
        },
      ],
      calls,
    );
    const config = parseConfig({
      approvedRegistries: [APPROVED_REGISTRY],
      namespaces: [drainNs],
      leaderElection: { enabled: true, namespace: leaseNs, leaseName: 'drain', leaseDuration: '15s' },
    });
    const manager = new Manager({ api, config, log: makeLogger('silent'), identity: 'drainer', processMetrics: false, onFatal: () => undefined });
    await manager.start();
    await eventually(() => Promise.resolve(manager.isLeader && manager.ready), Boolean);
    await createGrant(drainNs, 'in-flight', grantSpec({ ttl: '1h' }));
    await eventually(() => Promise.resolve(calls.some((c) => c.operation === 'patchNamespacedCustomObjectStatus' && c.doneAt === undefined)), Boolean);

    let stopped = false;
    const stopping = manager.stop().then(() => {
      stopped = true;
    });
    const lease = () => clientsFor('admin').coordination.readNamespacedLease({ namespace: leaseNs, name: 'drain' });
    // Still held while the status write is in flight: observed on the renewals the manager keeps sending.
    const renewTime = (await lease()).spec?.renewTime;
    await eventually(lease, (l) => l.spec?.renewTime !== renewTime, 10_000);
    expect(stopped).toBe(false);
    expect((await lease()).spec?.holderIdentity).toBe('drainer');

    release();
    await stopping;
    expect((await lease()).spec?.holderIdentity ?? '').toBe('');
    const write = calls.find((c) => c.operation === 'patchNamespacedCustomObjectStatus');
    expect(write?.failed).toBeUndefined();
    expect((await getGrant(drainNs, 'in-flight'))?.status?.phase).toBe('Active');
  });
});
