// `kubectl apply -k` of the shipped deployment (with an overlay that sets the admission
// variables, as a cluster would), then the operator run with its own ServiceAccount's
// token: its RBAC must be enough for the whole lifecycle, and no more.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../hack/controlplane/install.ts';
import { kustomizePatches } from '../../src/admission/render.ts';
import { LINGERING_ANNOTATION } from '../../src/api/names.ts';
import { parseConfig } from '../../src/config.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { makeLogger } from '../../src/log.ts';
import { Operator } from '../../src/operator.ts';
import { canI, clientsFor, eventually, freshNamespace, kubectl, plane, writePodStatus } from '../support/cluster.ts';
import { addEphemeralContainer, debugContainer } from '../support/debug-containers.ts';
import { createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { APPROVED_REGISTRY, DEBUG_IMAGE, TEST_POLICY } from '../support/policy.ts';

const SA = 'system:serviceaccount:debuggrant-system:debuggrant-operator';

describe('deployment', () => {
  test('kubectl apply -k of config/default, with an overlay for this cluster\'s policy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-overlay-'));
    writeFileSync(join(dir, 'kustomization.yaml'), stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization',
      resources: [relative(dir, join(REPO_ROOT, 'config/default'))], patches: kustomizePatches(TEST_POLICY),
    }));
    const out = await kubectl('admin', ['apply', '-k', dir]);
    // (warnings about objects first created server-side by the test setup are fine)
    expect(out.stderr).not.toMatch(/error/i);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('deployment.apps/debuggrant-operator created');
    expect(out.stdout).toContain('validatingadmissionpolicy.admissionregistration.k8s.io/debuggrant-ephemeral-containers');
    const dep = await kubectl('admin', ['-n', 'debuggrant-system', 'get', 'deploy', 'debuggrant-operator', '-o', 'jsonpath={.spec.replicas}']);
    expect(dep.stdout).toBe('2');
    // The shipped config in the ConfigMap is one the operator accepts.
    const cm = await clientsFor('admin').core.readNamespacedConfigMap({ namespace: 'debuggrant-system', name: 'debuggrant-config' });
    const { parse } = await import('yaml');
    expect(parseConfig(parse(cm.data?.['config.yaml'] ?? '')).leaderElection.enabled).toBe(true);
  });

  describe('the operator with its own ServiceAccount token', () => {
    let ns: string;
    let operator: Operator;
    beforeAll(async () => {
      ns = await freshNamespace('sa');
      const token = await clientsFor('admin').core.createNamespacedServiceAccountToken({
        namespace: 'debuggrant-system', name: 'debuggrant-operator', body: { spec: { audiences: [plane().server], expirationSeconds: 3600 } },
      });
      const kc = new k8s.KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'local', server: plane().server, caFile: plane().caFile }],
        users: [{ name: 'operator', token: token.status?.token ?? '' }],
        contexts: [{ name: 'operator', cluster: 'local', user: 'operator' }],
        currentContext: 'operator',
      });
      const admin = clientsFor('admin').core;
      await admin.createNamespacedPod({ namespace: ns, body: {
        metadata: { name: 'cart-1', labels: { app: 'cart' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'cart', uid: '3f1c2b9a-0000-4000-8000-000000000002', controller: true }] },
        spec: { containers: [{ name: 'app', image: DEBUG_IMAGE }] },
      } });
      operator = new Operator({
        api: fromKubeConfig(kc), config: parseConfig({ approvedRegistries: [APPROVED_REGISTRY], namespaces: [ns], revocationSettle: '1s' }),
        log: makeLogger(process.env.TEST_OPERATOR_LOG ?? 'silent'), processMetrics: false, identity: 'sa-operator',
      });
      await operator.start();
    });
    afterAll(async () => { await operator.stop(); });

    test('its RBAC covers activation, verification, expiry, lingering flags and eviction', async () => {
      await createGrant(ns, 'cart', grantSpec({ ttl: '3s', onExpiry: 'Evict', podSelector: { matchLabels: { app: 'cart' } } }));
      await eventually(() => getGrant(ns, 'cart'), isReady);
      await addEphemeralContainer('alice', ns, 'cart-1', debugContainer('dbg', DEBUG_IMAGE, 'restricted'));
      await writePodStatus(ns, 'cart-1', { ephemeralContainerStatuses: [{ name: 'dbg', image: DEBUG_IMAGE, imageID: '', ready: false, restartCount: 0, state: { running: { startedAt: new Date() } } }] });
      const ended = await eventually(() => getGrant(ns, 'cart'), (g) => g?.status?.lingering?.[0]?.evictedAt !== undefined, 20_000);
      expect(ended?.status?.conditions?.find((c) => c.type === 'RevocationVerified')?.status).toBe('True');
      await eventually(() => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'cart-1' }).then(() => true, () => false), (exists) => !exists);
      const index = await clientsFor('admin').objects.read({ apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrantIndex', metadata: { name: 'grants', namespace: ns } }) as unknown as { ended?: { grant: string }[] };
      expect(index.ended?.map((e) => e.grant)).toEqual(['cart']);
      expect(await operator.metrics.registry.getSingleMetricAsString('debuggrant_reconcile_errors_total')).not.toMatch(/ [1-9]\d*$/m);
      expect(LINGERING_ANNOTATION).toBeDefined();
    });

    test.each([
      ['get', 'secrets', '', ''], ['list', 'secrets', '', ''], ['delete', 'pods', '', ''], ['create', 'pods', '', ''],
      ['update', 'pods', 'ephemeralcontainers', ''], ['create', 'clusterroles', '', 'rbac.authorization.k8s.io'],
      ['create', 'clusterrolebindings', '', 'rbac.authorization.k8s.io'], ['escalate', 'roles', '', 'rbac.authorization.k8s.io'],
      ['bind', 'roles', '', 'rbac.authorization.k8s.io'], ['create', 'validatingadmissionpolicies', '', 'admissionregistration.k8s.io'],
      ['delete', 'validatingadmissionpolicybindings', '', 'admissionregistration.k8s.io'], ['create', 'debuggrants', '', 'debuggrant.dev'],
      ['delete', 'debuggrants', '', 'debuggrant.dev'], ['impersonate', 'users', '', ''], ['get', 'nodes', '', ''],
      ['update', 'leases', '', 'coordination.k8s.io'],
    ])('and no more: it cannot %s %s %s (%s)', async (verb, resource, subresource, group) => {
      expect(await canI({
        user: SA, groups: ['system:serviceaccounts', 'system:serviceaccounts:debuggrant-system', 'system:authenticated'],
        namespace: 'default', verb, resource, subresource: subresource || undefined, group,
      })).toBe(false);
    });
  });
});
