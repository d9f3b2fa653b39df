// The operator run with the ServiceAccount token an installation (kustomize or the Helm
// chart) gave it: its RBAC must carry a whole grant lifecycle and its secure metrics, and
// no more. Declares a describe block; call it from a test file after the install step.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { request } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { parseConfig } from '../../src/config.ts';
import { apiFor, fromKubeConfig, type KubeApi } from '../../src/kube/client.ts';
import { inClusterAccess } from '../../src/kube/kubeconfig.ts';
import { requestReviewer } from '../../src/kube/request-review.ts';
import { makeLogger } from '../../src/log.ts';
import { serveMetrics } from '../../src/metrics-server.ts';
import { Manager } from '../../src/manager.ts';
import type { Operator } from '../../src/operator.ts';
import { canI, clientsFor, eventually, freshNamespace, plane, writePodStatus } from './cluster.ts';
import { addEphemeralContainer, debugContainer } from './debug-containers.ts';
import { createGrant, getGrant, grantSpec, isReady } from './grants.ts';
import { HttpFaultProxy, type ProxiedRequest } from './http-fault-proxy.ts';
import { APPROVED_REGISTRY, DEBUG_IMAGE } from './policy.ts';

export interface InstalledOperator {
  /** Where the installation put the operator's ServiceAccount. */
  namespace: string;
  serviceAccount: string;
  /** The installation's metrics-reader ClusterRole. */
  metricsReaderRole: string;
  /** The installation's FlowSchemas (config/flowcontrol): all its requests, its RoleBinding deletes, its Lease. */
  flowSchemas: { operator: string; revocation: string; leaderElection: string };
}

/** A bound token of a ServiceAccount, as the kubelet would mount it. */
export async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  const token = await clientsFor('admin').core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [plane().server], expirationSeconds: 3600 } },
  });
  return token.status?.token ?? '';
}

/** A kubeconfig for whoever holds `token` (e.g. a ServiceAccount token from serviceAccountToken), to `server` (the control plane's by default). */
export function kubeConfigWithToken(token: string, server = plane().server): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server, caData: readFileSync(plane().caFile).toString('base64') }],
    users: [{ name: 'operator', token }],
    contexts: [{ name: 'operator', cluster: 'local', user: 'operator' }],
    currentContext: 'operator',
  });
  return kc;
}

/** A directory laid out as the kubelet mounts a ServiceAccount's token and the cluster's CA. */
export function serviceAccountMount(token: string, ca: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dg-sa-'));
  writeFileSync(join(dir, 'token'), token);
  writeFileSync(join(dir, 'ca.crt'), ca);
  return dir;
}

/** The API as whoever holds `token`. */
export const apiWithToken = (token: string): KubeApi => fromKubeConfig(kubeConfigWithToken(token));

/** The uid of a cluster-scoped API Priority and Fairness object, as the API server's response headers name it. */
async function flowControlUid(kind: 'FlowSchema' | 'PriorityLevelConfiguration', name: string): Promise<string> {
  const obj = await clientsFor('admin').objects.read({ apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind, metadata: { name } });
  return obj.metadata?.uid ?? '';
}

const isRoleBindingDelete = (r: ProxiedRequest): boolean => r.method === 'DELETE' && /\/rolebindings\/[^/]+$/.test(r.path);
const isLeaseRequest = (r: ProxiedRequest): boolean => r.path.startsWith('/apis/coordination.k8s.io/v1/namespaces/');

function scrapeStatus(port: number, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

export function describeOperatorWithOwnToken(title: string, installed: () => InstalledOperator): void {
  describe(title, () => {
    let ns: string;
    let manager: Manager;
    let operator: Operator;
    let fatal: string | undefined;
    let api: KubeApi;
    let sa: string;
    // Every request of the operator goes through it (no faults), so the API server's answers' headers can be read.
    let proxy: HttpFaultProxy;
    beforeAll(async () => {
      const inst = installed();
      sa = `system:serviceaccount:${inst.namespace}:${inst.serviceAccount}`;
      ns = await freshNamespace('sa');
      const token = await serviceAccountToken(inst.namespace, inst.serviceAccount);
      proxy = await HttpFaultProxy.start(kubeConfigWithToken(token));
      // As in its Pod: the in-cluster configuration, from the token and CA the kubelet mounts.
      api = apiFor(inClusterAccess(proxy.asCluster.env, serviceAccountMount(token, proxy.asCluster.ca)));
      await clientsFor('admin').core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: {
            name: 'cart-1',
            labels: { app: 'cart' },
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'cart', uid: '3f1c2b9a-0000-4000-8000-000000000002', controller: true }],
          },
          spec: { containers: [{ name: 'app', image: DEBUG_IMAGE }] },
        },
      });
      // With leader election, as the Deployment runs it: its Lease requests are classified too.
      manager = new Manager({
        api,
        config: parseConfig({
          approvedRegistries: [APPROVED_REGISTRY],
          namespaces: [ns],
          revocationSettle: '1s',
          leaderElection: { enabled: true, namespace: inst.namespace, leaseName: `sa-operator-${ns}` },
        }),
        log: makeLogger(process.env.TEST_OPERATOR_LOG ?? 'silent'),
        processMetrics: false,
        identity: 'sa-operator',
        onFatal: (reason) => {
          fatal = reason;
        },
      });
      operator = manager.operator;
      await manager.start();
      await eventually(
        () => Promise.resolve(manager.isLeader),
        (leads) => leads,
      );
    });
    afterAll(async () => {
      await manager.stop();
      expect(fatal).toBeUndefined();
      api.connection.close();
      await proxy.close();
    });

    test('its RBAC covers activation, verification, expiry, lingering flags and eviction', async () => {
      // Long enough that the debug container goes in before the deadline on a loaded machine
      // (the admission policy refuses it by the API server's clock after that).
      await createGrant(ns, 'cart', grantSpec({ ttl: '10s', onExpiry: 'Evict', podSelector: { matchLabels: { app: 'cart' } } }));
      await eventually(() => getGrant(ns, 'cart'), isReady);
      await addEphemeralContainer('alice', ns, 'cart-1', debugContainer('dbg', DEBUG_IMAGE, 'restricted'));
      await writePodStatus(ns, 'cart-1', {
        ephemeralContainerStatuses: [
          { name: 'dbg', image: DEBUG_IMAGE, imageID: '', ready: false, restartCount: 0, state: { running: { startedAt: new Date() } } },
        ],
      });
      const ended = await eventually(
        () => getGrant(ns, 'cart'),
        (g) => g?.status?.lingering?.[0]?.evictedAt !== undefined,
        40_000,
      );
      expect(ended?.status?.conditions?.find((c) => c.type === 'RevocationVerified')?.status).toBe('True');
      // Its RBAC covers the grant's timer Job (the second deadline path): no "cannot create resource jobs".
      expect(ended?.status?.conditions?.find((c) => c.type === 'SecondDeadline')?.message ?? '').not.toMatch(/cannot \w+ resource "jobs"/);
      await eventually(
        () =>
          clientsFor('admin')
            .core.readNamespacedPod({ namespace: ns, name: 'cart-1' })
            .then(
              () => true,
              () => false,
            ),
        (exists) => !exists,
      );
      const index = (await clientsFor('admin').objects.read({
        apiVersion: 'debuggrant.dev/v1alpha1',
        kind: 'DebugGrantIndex',
        metadata: { name: 'grants', namespace: ns },
      })) as unknown as { ended?: { grant: string }[] };
      expect(index.ended?.map((e) => e.grant)).toEqual(['cart']);
      // And its second copy of the spent name, in the operator's own namespace (its Role there).
      const history = await eventually(
        () =>
          clientsFor('admin')
            .objects.read({ apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrantHistory', metadata: { name: ns, namespace: installed().namespace } })
            .then(
              (h) => h as unknown as { ended?: { grant: string }[] },
              () => undefined,
            ),
        (h) => h !== undefined,
      );
      expect(history?.ended?.map((e) => e.grant)).toEqual(['cart']);
      expect(await operator.metrics.registry.getSingleMetricAsString('debuggrant_reconcile_errors_total')).not.toMatch(/ [1-9]\d*$/m);
    });

    test('API Priority and Fairness puts its requests in its own priority level, and its RoleBinding deletes in another', async () => {
      // By the API server's own response headers (X-Kubernetes-PF-FlowSchema-UID / -PriorityLevel-UID),
      // for every request of the lifecycle above (it ended with the RoleBinding deleted at the deadline).
      const { operator: operatorSchema, revocation, leaderElection } = installed().flowSchemas;
      const uids = {
        operator: {
          flowSchema: await flowControlUid('FlowSchema', operatorSchema),
          priorityLevel: await flowControlUid('PriorityLevelConfiguration', operatorSchema),
        },
        revocation: {
          flowSchema: await flowControlUid('FlowSchema', revocation),
          priorityLevel: await flowControlUid('PriorityLevelConfiguration', revocation),
        },
        leaderElection: {
          flowSchema: await flowControlUid('FlowSchema', leaderElection),
          priorityLevel: await flowControlUid('PriorityLevelConfiguration', leaderElection),
        },
        // The probe of a retired connection (GET /livez, src/kube/connection.ts) falls to the
        // API server's built-in `probes` FlowSchema, whose level is exempt: never queued.
        probes: {
          flowSchema: await flowControlUid('FlowSchema', 'probes'),
          priorityLevel: await flowControlUid('PriorityLevelConfiguration', 'exempt'),
        },
      };
      const isProbe = (r: ProxiedRequest): boolean => r.method === 'GET' && ['/livez', '/readyz', '/healthz'].includes(r.path);
      const answered = proxy.log.filter((r) => r.serverHeaders !== undefined);
      const classified = (r: ProxiedRequest): string => {
        const flowSchema = r.serverHeaders?.['x-kubernetes-pf-flowschema-uid'];
        const priorityLevel = r.serverHeaders?.['x-kubernetes-pf-prioritylevel-uid'];
        const name = Object.entries(uids).find(([, u]) => u.flowSchema === flowSchema && u.priorityLevel === priorityLevel)?.[0];
        return `${r.method} ${r.path}: ${name ?? `FlowSchema ${String(flowSchema)}, priority level ${String(priorityLevel)}`}`;
      };
      const deletes = answered.filter(isRoleBindingDelete);
      expect(deletes.length).toBeGreaterThan(0);
      expect(deletes.map(classified)).toEqual(deletes.map((r) => `${r.method} ${r.path}: revocation`));
      // Its Lease: a level of its own, so renewals never queue behind its own bulk.
      const leases = answered.filter(isLeaseRequest);
      expect(leases.length).toBeGreaterThan(2);
      expect(leases.map(classified)).toEqual(leases.map((r) => `${r.method} ${r.path}: leaderElection`));
      const rest = answered.filter((r) => !isRoleBindingDelete(r) && !isLeaseRequest(r));
      expect(rest.length).toBeGreaterThan(20);
      expect(rest.map(classified)).toEqual(rest.map((r) => `${r.method} ${r.path}: ${isProbe(r) ? 'probes' : 'operator'}`));
    });

    test('its RBAC lets it authenticate and authorize metrics scrapes (TokenReview, SubjectAccessReview)', async () => {
      const core = clientsFor('admin').core;
      await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'scraper' } } });
      await clientsFor('admin').rbac.createClusterRoleBinding({
        body: {
          metadata: { name: `${ns}-scraper` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: installed().metricsReaderRole },
          subjects: [{ kind: 'ServiceAccount', name: 'scraper', namespace: ns }],
        },
      });
      const server: Server = await serveMetrics({
        registry: operator.metrics.registry,
        bind: { host: '127.0.0.1', port: 0 },
        log: makeLogger('silent'),
        secure: { reviewer: requestReviewer(api) },
      });
      try {
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : 0;
        expect(await scrapeStatus(port, await serviceAccountToken(ns, 'scraper'))).toBe(200);
        expect(await scrapeStatus(port, await serviceAccountToken(ns, 'default'))).toBe(403);
      } finally {
        server.close();
        await clientsFor('admin').rbac.deleteClusterRoleBinding({ name: `${ns}-scraper` });
      }
    });

    test.each([
      ['get', 'secrets', '', ''],
      ['list', 'secrets', '', ''],
      ['delete', 'pods', '', ''],
      ['create', 'pods', '', ''],
      ['update', 'pods', 'ephemeralcontainers', ''],
      ['create', 'clusterroles', '', 'rbac.authorization.k8s.io'],
      ['create', 'clusterrolebindings', '', 'rbac.authorization.k8s.io'],
      ['escalate', 'roles', '', 'rbac.authorization.k8s.io'],
      ['bind', 'roles', '', 'rbac.authorization.k8s.io'],
      ['create', 'validatingadmissionpolicies', '', 'admissionregistration.k8s.io'],
      ['delete', 'validatingadmissionpolicybindings', '', 'admissionregistration.k8s.io'],
      ['create', 'debuggrants', '', 'debuggrant.dev'],
      ['delete', 'debuggrants', '', 'debuggrant.dev'],
      ['impersonate', 'users', '', ''],
      ['get', 'nodes', '', ''],
      ['update', 'leases', '', 'coordination.k8s.io'],
    ])('and no more: it cannot %s %s %s (%s)', async (verb, resource, subresource, group) => {
      const inst = installed();
      expect(
        await canI({
          user: sa,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${inst.namespace}`, 'system:authenticated'],
          namespace: 'default',
          verb,
          resource,
          subresource: subresource || undefined,
          group,
        }),
      ).toBe(false);
    });
  });
}
