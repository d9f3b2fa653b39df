// The leader's Lease when the API server's priority level is saturated and the operator has no
// FlowSchema of its own (config/flowcontrol not applied: a cluster where it was left out).
// A second kube-apiserver on the same etcd with few seats (--max-requests-inflight) gives a
// priority level of this test one seat; a FlowSchema puts the operator's ServiceAccount and
// three workload ServiceAccounts there, one flow each, as the built-in `service-accounts`
// FlowSchema puts them all in `workload-low`. The workloads' writes go through a validating
// webhook that answers after 1 s, so they hold the seat; the operator activates and then
// revokes a burst of grants meanwhile. Each renewal then waits 2.5-3.6 s for its flow's turn
// (whether 0 or 134 of the operator's own requests were in flight: measured), and with the
// retry period counted from a renewal's answer, two such waits and a period passed the 10 s
// renew deadline: the leader gave up its Lease and stopped within seconds of the burst.
// Observable: the Lease's holder and renewTime (read by the admin, whom APF exempts), the
// manager's onFatal, and the grants' RBAC and phase (revocation still happens).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Agent, fetch } from 'undici';
import { stringify } from 'yaml';
import { startSecondApiServer } from '../../hack/controlplane/plane.ts';
import { startSlowWebhook, type SlowWebhook } from '../../hack/slow-webhook.ts';
import { parseConfig } from '../../src/config.ts';
import { fromKubeConfig, requestPolicy } from '../../src/kube/client.ts';
import { makeLogger } from '../../src/log.ts';
import { Manager } from '../../src/manager.ts';
import { canI, clientsFor, createPod, eventually, freshNamespace, kubectl, plane } from '../support/cluster.ts';
import { createGrant, getGrant, grantSpec, rbacFor } from '../support/grants.ts';
import { APPROVED_REGISTRY } from '../support/operator.ts';
import { kubeConfigWithToken, serviceAccountToken } from '../support/service-account-operator.ts';

const LEVEL = 'debuggrant-test-one-seat';
const WEBHOOK = 'debuggrant-test-slow-configmap-writes';
const WEBHOOK_MS = 1000;
/** Workload ServiceAccounts, each writing its own ConfigMap in a loop: one flow each. */
const WORKLOADS = 3;
const GRANTS = 20;
const LEASE = 'one-seat';

describe('the Lease under a saturated priority level, without the FlowSchemas', () => {
  let ns: string;
  let dir: string;
  let webhook: SlowWebhook;
  let second: { server: string; stop: () => Promise<void> };
  let operatorToken: string;
  let workloadTokens: string[];

  beforeAll(async () => {
    ns = await freshNamespace('lease-overload');
    await createPod(ns, 'api-1', { app: 'checkout' });
    const core = clientsFor('admin').core;
    const names = ['squeezed-operator', ...Array.from({ length: WORKLOADS }, (_, i) => `workload-${String(i)}`)];
    for (const name of names) await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
    for (let i = 0; i < WORKLOADS; i++)
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `load-${String(i)}` }, data: { n: '0' } } });
    dir = mkdtempSync(join(tmpdir(), 'debuggrant-lease-overload-'));
    webhook = await startSlowWebhook(dir, WEBHOOK_MS);
    const objects = [
      // The operator's ServiceAccount may do anything here (its RBAC is not what this tests); APF still classifies it, unlike system:masters.
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: `debuggrant-test-${ns}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'squeezed-operator', namespace: ns }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'write-config', namespace: ns },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'patch'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'write-config', namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'write-config' },
        subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: `system:serviceaccounts:${ns}` }],
      },
      // One seat on the second API server (its total is a handful); nothing borrowed or lent.
      {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'PriorityLevelConfiguration',
        metadata: { name: LEVEL },
        spec: {
          type: 'Limited',
          limited: {
            nominalConcurrencyShares: 1,
            lendablePercent: 0,
            borrowingLimitPercent: 0,
            limitResponse: { type: 'Queue', queuing: { queues: 64, handSize: 1, queueLengthLimit: 500 } },
          },
        },
      },
      // Every ServiceAccount of the test's namespace, one flow per user, as `service-accounts` does.
      {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'FlowSchema',
        metadata: { name: LEVEL },
        spec: {
          priorityLevelConfiguration: { name: LEVEL },
          matchingPrecedence: 500,
          distinguisherMethod: { type: 'ByUser' },
          rules: [
            {
              subjects: [{ kind: 'Group', group: { name: `system:serviceaccounts:${ns}` } }],
              resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], clusterScope: true, namespaces: ['*'] }],
              nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
            },
          ],
        },
      },
      webhook.configuration(WEBHOOK, ns, { operations: ['UPDATE'], apiGroups: [''], resources: ['configmaps'] }),
    ];
    const applied = await kubectl('admin', ['apply', '--server-side', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
    expect(applied.code).toBe(0);
    second = await startSecondApiServer(plane(), 'one-seat', ['--max-requests-inflight=4', '--max-mutating-requests-inflight=2']);
    operatorToken = await serviceAccountToken(ns, 'squeezed-operator');
    workloadTokens = await Promise.all(Array.from({ length: WORKLOADS }, (_, i) => serviceAccountToken(ns, `workload-${String(i)}`)));
  }, 180_000);

  afterAll(async () => {
    await second.stop();
    await kubectl('admin', ['delete', 'validatingwebhookconfiguration', WEBHOOK, '--ignore-not-found']);
    await kubectl('admin', ['delete', 'flowschema,prioritylevelconfiguration', LEVEL, '--ignore-not-found']);
    await kubectl('admin', ['delete', 'clusterrolebinding', `debuggrant-test-${ns}`, '--ignore-not-found']);
    await webhook.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the leader keeps its Lease while it activates and revokes a burst of grants', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const log = makeLogger('info', sink);
    const config = parseConfig({
      approvedRegistries: [APPROVED_REGISTRY],
      namespaces: [ns],
      maxTtl: '2h',
      revocationSettle: '2s',
      leaderElection: { enabled: true, namespace: ns, leaseName: LEASE },
    });
    const api = fromKubeConfig(kubeConfigWithToken(operatorToken, second.server), requestPolicy(config, log));
    let fatal: string | undefined;
    const manager = new Manager({
      api,
      config,
      log,
      identity: 'squeezed-leader',
      processMetrics: false,
      onFatal: (reason) => {
        fatal ??= reason;
        void manager.stop(true);
      },
    });
    let load: { stop(): Promise<void> } | undefined;
    const coordination = clientsFor('admin').coordination;
    const lease = async (): Promise<{ holder?: string; renewTime: number }> => {
      const l = await coordination.readNamespacedLease({ namespace: ns, name: LEASE });
      return { holder: l.spec?.holderIdentity, renewTime: l.spec?.renewTime ? new Date(l.spec.renewTime).getTime() : 0 };
    };
    try {
      await manager.start();
      await eventually(() => Promise.resolve(manager.isLeader && manager.ready), Boolean, 60_000, 100);
      // Leading and synced; then the workload takes the seat, before the burst.
      load = startLoad(second.server, ns, workloadTokens);
      await eventually(
        () => Promise.resolve(webhook.answered),
        (n) => n >= WORKLOADS,
        30_000,
        100,
      );
      const burstAt = Date.now();
      const names = Array.from({ length: GRANTS }, (_, i) => `burst-${String(i)}`);
      await Promise.all(names.map((name) => createGrant(ns, name, grantSpec({ ttl: '20s' }))));
      // Every grant activated, then expired by the leader (or the leader gave up: fatal).
      const ended = await eventually(
        async () => (fatal ? [] : await Promise.all(names.map(async (name) => (await getGrant(ns, name))?.status?.phase))),
        (phases) => fatal !== undefined || phases.every((p) => p === 'Expired'),
        150_000,
        500,
      );
      const held = await lease();
      expect({ fatal, leading: manager.isLeader, holder: held.holder }).toEqual({ fatal: undefined, leading: true, holder: 'squeezed-leader' });
      expect(ended).toEqual(names.map(() => 'Expired'));
      // Renewed through the burst: its last renewal is after every grant expired, well past the burst's start.
      expect(held.renewTime).toBeGreaterThan(burstAt + 20_000);
      for (const name of names) expect(await rbacFor(ns, name)).toEqual({ role: false, binding: false });
      expect(await canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'api-1' })).toBe(false);
    } catch (err) {
      process.stderr.write(`[lease-under-overload] the operator's last log lines:\n${lines.slice(-40).join('\n')}\n`);
      throw err;
    } finally {
      await load?.stop();
      await manager.stop(true);
      api.connection.close();
    }
  }, 300_000);
});

/** Each workload ServiceAccount writes its own ConfigMap in a loop (each write held WEBHOOK_MS by the webhook), until stop(). */
function startLoad(server: string, ns: string, tokens: string[]): { stop(): Promise<void> } {
  const agent = new Agent({ connect: { ca: readFileSync(plane().caFile) } });
  let running = true;
  const loops = tokens.map(async (token, i) => {
    for (let n = 1; running; n++) {
      try {
        const res = await fetch(`${server}/api/v1/namespaces/${ns}/configmaps/load-${String(i)}`, {
          method: 'PATCH',
          dispatcher: agent,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/merge-patch+json' },
          body: JSON.stringify({ data: { n: String(n) } }),
          signal: AbortSignal.timeout(60_000),
        });
        await res.arrayBuffer();
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await agent.close();
    },
  };
}
