// `kubectl apply -k` of the shipped deployment (with an overlay that sets the admission
// variables, as a cluster would), then the operator run with its own ServiceAccount's
// token: its RBAC must be enough for the whole lifecycle, and no more (the same suite
// runs against the Helm chart's installation in chart.test.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../hack/controlplane/install.ts';
import { kustomizePatches } from '../../src/admission/render.ts';
import { parseConfig } from '../../src/config.ts';
import { clientsFor, kubectl } from '../support/cluster.ts';
import { TEST_POLICY } from '../support/policy.ts';
import { describeOperatorWithOwnToken } from '../support/service-account-operator.ts';

describe('deployment', () => {
  test("kubectl apply -k of config/default, with an overlay for this cluster's policy", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-overlay-'));
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [relative(dir, join(REPO_ROOT, 'config/default'))],
        patches: kustomizePatches(TEST_POLICY),
      }),
    );
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

  describeOperatorWithOwnToken('the operator with its own ServiceAccount token', () => ({
    namespace: 'debuggrant-system',
    serviceAccount: 'debuggrant-operator',
    metricsReaderRole: 'debuggrant:metrics-reader',
    flowSchemas: { operator: 'debuggrant-operator', revocation: 'debuggrant-revocation', leaderElection: 'debuggrant-leader-election' },
  }));
});
