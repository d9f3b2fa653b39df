// Proves the local control plane is real: RBAC decides, admission runs, and the
// binaries are the pinned version. These fail if RBAC or admission is switched off.
import * as k8s from '@kubernetes/client-node';
import { canI, clientsFor, createPod, freshNamespace, kubectl, rejection } from '../support/cluster.ts';
import { EXEMPT } from '../support/policy.ts';

const debugImage = 'registry.example.com/debug/netshoot@sha256:' + 'b'.repeat(64);

function addEphemeral(user: 'alice' | 'bob', namespace: string, pod: string, container: k8s.V1EphemeralContainer) {
  return clientsFor(user).core.patchNamespacedPodEphemeralcontainers(
    { namespace, name: pod, body: { spec: { ephemeralContainers: [container] } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
  );
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe('local control plane', () => {
  let ns: string;
  beforeAll(async () => {
    // This file tests the plane's own RBAC and admission, not our policies.
    ns = await freshNamespace('plane', EXEMPT);
    await createPod(ns, 'web', { app: 'web' });
  });

  test('RBAC decides who may add an ephemeral container, and revocation takes it away', async () => {
    const denied = await rejection(addEphemeral('alice', ns, 'web', { name: 'dbg1', image: debugImage }));
    expect(denied.code).toBe(403);
    expect(denied.message).toContain('pods/ephemeralcontainers');
    expect(await canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'web' })).toBe(false);

    const admin = clientsFor('admin');
    await admin.rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'debug-web' },
        rules: [
          { apiGroups: [''], resources: ['pods'], verbs: ['get'], resourceNames: ['web'] },
          { apiGroups: [''], resources: ['pods/ephemeralcontainers'], verbs: ['patch'], resourceNames: ['web'] },
        ],
      },
    });
    await admin.rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'debug-web-alice' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'debug-web' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
      },
    });
    const sarAllows = () => canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'web' });
    expect(await eventually(sarAllows)).toBe(true);

    const asAlice = await kubectl('alice', ['auth', 'can-i', 'patch', 'pods/web', '--subresource=ephemeralcontainers', '-n', ns]);
    expect(asAlice.stdout.trim()).toBe('yes');
    const asAdmin = await kubectl('admin', ['auth', 'can-i', 'patch', 'pods/web', '--subresource=ephemeralcontainers', '-n', ns, '--as', 'alice']);
    expect(asAdmin.stdout.trim()).toBe('yes');
    const otherPod = await kubectl('alice', ['auth', 'can-i', 'patch', 'pods/other', '--subresource=ephemeralcontainers', '-n', ns]);
    expect(otherPod.stdout.trim()).toBe('no');

    const pod = await addEphemeral('alice', ns, 'web', { name: 'dbg1', image: debugImage });
    expect(pod.spec?.ephemeralContainers?.map((c) => c.name)).toEqual(['dbg1']);
    expect((await rejection(addEphemeral('bob', ns, 'web', { name: 'dbg2', image: debugImage }))).code).toBe(403);

    await admin.rbac.deleteNamespacedRoleBinding({ namespace: ns, name: 'debug-web-alice' });
    expect(await eventually(async () => !(await sarAllows()))).toBe(true);
    expect((await rejection(addEphemeral('alice', ns, 'web', { name: 'dbg3', image: debugImage }))).code).toBe(403);
  });

  test('admission runs: a ValidatingAdmissionPolicy refuses an ephemeral container', async () => {
    const admin = clientsFor('admin');
    const policy = `plane-test-${ns}`;
    await admin.admissionReg.createValidatingAdmissionPolicy({
      body: {
        metadata: { name: policy },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
            resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers'] }],
          },
          validations: [
            {
              expression: "object.spec.ephemeralContainers.all(c, !c.image.endsWith(':latest'))",
              message: 'test policy: no :latest debug images',
            },
          ],
        },
      },
    });
    await admin.admissionReg.createValidatingAdmissionPolicyBinding({
      body: { metadata: { name: policy }, spec: { policyName: policy, validationActions: ['Deny'] } },
    });
    // The policy is loaded asynchronously by the apiserver; retry until it bites.
    const refused = await eventually(async () => {
      try {
        await admin.core.patchNamespacedPodEphemeralcontainers(
          { namespace: ns, name: 'web', body: { spec: { ephemeralContainers: [{ name: `x${Date.now()}`, image: 'busybox:latest' }] } } },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
        );
        return false;
      } catch (err) {
        return err instanceof k8s.ApiException && String(err.body).includes('test policy: no :latest debug images');
      }
    }, 20_000);
    expect(refused).toBe(true);
  });

  test('privileged containers are allowed by the apiserver itself, as on real clusters', async () => {
    const pod = await clientsFor('admin').core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'priv' },
        spec: { containers: [{ name: 'c', image: debugImage, securityContext: { privileged: true } }] },
      },
    });
    expect(pod.spec?.containers[0]?.securityContext?.privileged).toBe(true);
  });

  test('kubectl and the apiserver carry the pinned version, not v0.0.0-master', async () => {
    const out = await kubectl('admin', ['version', '-o', 'json']);
    const v = JSON.parse(out.stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
    expect(v.clientVersion.gitVersion).toMatch(/^v1\.(3[5-9]|[4-9]\d)\.\d+$/);
    expect(v.serverVersion.gitVersion).toBe(v.clientVersion.gitVersion);
  });
});
