// Two replicas compete for one Lease: only the leader acts; when it dies the standby
// takes over within seconds, at once when it steps down gracefully. The probes and the
// Prometheus endpoint answer over HTTP.
import type { Server } from 'node:http';
import { parseConfig } from '../../src/config.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { makeLogger } from '../../src/log.ts';
import { Manager } from '../../src/manager.ts';
import { serveMetrics } from '../../src/metrics-server.ts';
import { serveProbes } from '../../src/probes.ts';
import { clientsFor, createPod, eventually, freshNamespace, kubeConfigFor } from '../support/cluster.ts';
import { createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { APPROVED_REGISTRY } from '../support/policy.ts';

describe('leader election and metrics', () => {
  let ns: string;
  let leaseNs: string;
  const managers: Manager[] = [];
  const fatal: string[] = [];

  function replica(id: string): Manager {
    const config = parseConfig({
      approvedRegistries: [APPROVED_REGISTRY],
      namespaces: [ns],
      leaderElection: { enabled: true, namespace: leaseNs, leaseName: 'debuggrant-operator', leaseDuration: '3s' },
    });
    const m = new Manager({
      api: fromKubeConfig(kubeConfigFor('admin')),
      config,
      log: makeLogger('silent'),
      identity: id,
      processMetrics: false,
      onFatal: (reason) => {
        fatal.push(`${id}: ${reason}`);
      },
    });
    managers.push(m);
    return m;
  }

  beforeAll(async () => {
    ns = await freshNamespace('ha');
    leaseNs = await freshNamespace('ha-leases');
    await createPod(ns, 'api-1', { app: 'checkout' });
  });
  afterAll(async () => {
    for (const m of managers) await m.stop();
  });

  test('one leader acts; a killed leader is replaced within seconds, a stopped one at once', async () => {
    const a = replica('replica-a');
    const b = replica('replica-b');
    await a.start();
    await eventually(() => Promise.resolve(a.isLeader), Boolean, 10_000);
    await b.start();
    // b has read the Lease, held by a: it stays a standby.
    await eventually(
      () => Promise.resolve(b.leader),
      (holder) => holder === 'replica-a',
      10_000,
      50,
    );
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    const lease = await clientsFor('admin').coordination.readNamespacedLease({ namespace: leaseNs, name: 'debuggrant-operator' });
    expect(lease.spec?.holderIdentity).toBe('replica-a');

    await createGrant(ns, 'first', grantSpec());
    await eventually(() => getGrant(ns, 'first'), isReady);

    // Kill: no release, the Lease must lapse (3 s) before b may take it.
    const killedAt = Date.now();
    await a.stop(true);
    await eventually(() => Promise.resolve(b.isLeader), Boolean, 15_000, 50);
    const takeover = Date.now() - killedAt;
    expect(takeover).toBeLessThan(10_000);
    await createGrant(ns, 'second', grantSpec());
    await eventually(() => getGrant(ns, 'second'), isReady);

    // Graceful: b releases the Lease and c takes it on its next try.
    const c = replica('replica-c');
    await c.start();
    await eventually(
      () => Promise.resolve(c.leader),
      (holder) => holder === 'replica-b',
      10_000,
      50,
    );
    const releasedAt = Date.now();
    await b.stop();
    // Handed over, not left to lapse: the Lease b held is released (or already c's) when stop() returns.
    const released = await clientsFor('admin').coordination.readNamespacedLease({ namespace: leaseNs, name: 'debuggrant-operator' });
    expect(['', 'replica-c']).toContain(released.spec?.holderIdentity ?? '');
    await eventually(() => Promise.resolve(c.isLeader), Boolean, 10_000, 50);
    expect(fatal).toEqual([]);
    process.stderr.write(`[ha] takeover after a kill: ${String(takeover)} ms; after a graceful stop: ${String(Date.now() - releasedAt)} ms\n`);
  });

  test('/healthz, /readyz and (plain HTTP on loopback) /metrics', async () => {
    const leader = managers.find((m) => m.isLeader);
    if (!leader) throw new Error('no leader');
    const probes: Server = await serveProbes(leader, { host: '127.0.0.1', port: 0 });
    const metricsServer: Server = await serveMetrics({
      registry: leader.operator.metrics.registry,
      bind: { host: '127.0.0.1', port: 0 },
      log: makeLogger('silent'),
    });
    const base = (s: Server): string => {
      const address = s.address();
      return `http://127.0.0.1:${String(typeof address === 'object' && address ? address.port : 0)}`;
    };
    try {
      expect((await fetch(`${base(probes)}/healthz`)).status).toBe(200);
      await eventually(
        async () => (await fetch(`${base(probes)}/readyz`)).status,
        (s) => s === 200,
      );
      expect((await fetch(`${base(probes)}/metrics`)).status).toBe(404);
      const metrics = await (await fetch(`${base(metricsServer)}/metrics`)).text();
      expect(metrics).toMatch(/^debuggrant_grants\{phase="Active"\} 2$/m);
      expect(metrics).toContain('debuggrant_reconcile_duration_seconds_bucket');
      expect(metrics).toContain('debuggrant_revocation_lateness_seconds');
      expect(metrics).toContain('debuggrant_lingering_ephemeral_containers 0');
      expect(metrics).toContain('debuggrant_api_request_duration_seconds');
      expect((await fetch(`${base(metricsServer)}/nope`)).status).toBe(404);
    } finally {
      probes.close();
      metricsServer.close();
    }
  });
});
