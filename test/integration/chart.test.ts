// The Helm chart: lint clean; its defaults render exactly what config/default (kustomize)
// ships; several value sets render, apply to the real API server, and say the same thing
// everywhere (ConfigMap, admission variables, RBAC); then the operator runs through a grant
// lifecycle with the ServiceAccount token the chart gave it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { REPO_ROOT } from '../../hack/controlplane/install.ts';
import { admissionVariables } from '../../src/admission/render.ts';
import { parseConfig, type OperatorConfig } from '../../src/config.ts';
import { VERSION } from '../../src/version.ts';
import { canI, freshNamespace, kubectl, namespaceNamed } from '../support/cluster.ts';
import { ensureHelm, helm } from '../support/helm.ts';
import { CHART_NAMESPACE, TEST_POLICY } from '../support/policy.ts';
import { describeOperatorWithOwnToken } from '../support/service-account-operator.ts';

const CHART = join(REPO_ROOT, 'charts/debuggrant');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown> & { variables?: { name: string; expression: string }[] };
  data?: Record<string, string>;
  subjects?: { kind: string; name: string; namespace?: string }[];
  rules?: unknown[];
}

const docs = (text: string): K8sObject[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
const keyOf = (o: K8sObject): string => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const find = (objs: K8sObject[], kind: string, suffix: string): K8sObject | undefined => objs.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix));

function valuesFile(values: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'dg-values-')), 'values.yaml');
  writeFileSync(file, stringify(values));
  return file;
}

async function template(release: string, namespace: string, values: unknown): Promise<K8sObject[]> {
  const out = await helm(['template', release, CHART, '--namespace', namespace, '--include-crds', '-f', valuesFile(values)]);
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  return docs(out.stdout);
}

/** Cluster-scoped objects this file stored, removed after it: the control plane is shared with every other test file. */
const CLUSTER_SCOPED = new Set([
  'ClusterRole',
  'ClusterRoleBinding',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionPolicyBinding',
  'FlowSchema',
  'PriorityLevelConfiguration',
]);
const isPolicy = (o: K8sObject): boolean => /^(Validating|Mutating)AdmissionPolicy/.test(o.kind);
const storedClusterWide: K8sObject[] = [];

async function apply(objs: K8sObject[], dryRun = false): Promise<void> {
  if (objs.length === 0) return;
  const out = await kubectl(
    'admin',
    ['apply', '--server-side', ...(dryRun ? ['--dry-run=server'] : []), '-f', '-'],
    objs.map((o) => stringify(o)).join('---\n'),
  );
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  if (!dryRun) storedClusterWide.push(...objs.filter((o) => CLUSTER_SCOPED.has(o.kind)));
}

async function removeStoredClusterWide(): Promise<void> {
  const objs = storedClusterWide.splice(0);
  if (objs.length === 0) return;
  const out = await kubectl('admin', ['delete', '--ignore-not-found', '--wait=false', '-f', '-'], objs.map((o) => stringify(o)).join('---\n'));
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
}

/**
 * The chart's policy bindings match every namespace; here they are bound to the release's
 * namespace only, so while this file runs their verdicts never join (AND with) those of the
 * test files running beside it.
 */
function boundToNamespace(o: K8sObject, namespace: string): K8sObject {
  if (o.kind !== 'ValidatingAdmissionPolicyBinding' && o.kind !== 'MutatingAdmissionPolicyBinding') return o;
  return { ...o, spec: { ...o.spec, matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } } } };
}

/** What the operator reads from the rendered ConfigMap, validated by the operator's own schema. */
function renderedConfig(objs: K8sObject[]): OperatorConfig {
  return parseConfig(parse(find(objs, 'ConfigMap', '-config')?.data?.['config.yaml'] ?? ''));
}

/** Chart-only metadata (Helm's release labels, the config checksum) that kustomize has no counterpart for. */
function comparable(o: K8sObject): unknown {
  const copy = structuredClone(o);
  const labels = copy.metadata.labels ?? {};
  for (const l of ['helm.sh/chart', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/instance']) Reflect.deleteProperty(labels, l);
  if (copy.kind === 'CustomResourceDefinition') return { spec: copy.spec };
  if (copy.kind === 'ConfigMap') return { ...copy, data: { 'config.yaml': parseConfig(parse(copy.data?.['config.yaml'] ?? '')) } };
  // Configurable CEL variables: the same list or string, whichever quotes it was written with.
  const configurable = Object.keys(admissionVariables(parseConfig({ approvedRegistries: ['r/'] })));
  for (const v of copy.spec?.variables ?? []) {
    if (configurable.includes(v.name)) v.expression = JSON.stringify(JSON.parse(v.expression.replaceAll("'", '"')));
  }
  // Go's YAML and kustomize's disagree on line breaks in folded CEL (more-indented lines);
  // CEL does not care, so whitespace runs compare as one space.
  if (copy.kind === 'ValidatingAdmissionPolicy' || copy.kind === 'MutatingAdmissionPolicy') {
    return JSON.parse(JSON.stringify(copy), (_k, v: unknown) => (typeof v === 'string' ? v.replace(/\s+/g, ' ') : v)) as unknown;
  }
  const podTemplate = (copy.spec?.template as { metadata?: { annotations?: Record<string, string> } } | undefined)?.metadata;
  if (podTemplate?.annotations) {
    Reflect.deleteProperty(podTemplate.annotations, 'checksum/config');
    if (Object.keys(podTemplate.annotations).length === 0) delete podTemplate.annotations;
  }
  return copy;
}

const TEST_CONFIG = {
  approvedRegistries: TEST_POLICY.approvedRegistries,
  maxTtl: TEST_POLICY.maxTtl,
  allowedProfiles: TEST_POLICY.allowedProfiles,
  grantCreators: TEST_POLICY.grantCreators,
  breakGlassGroups: TEST_POLICY.breakGlassGroups,
  sessionImages: TEST_POLICY.sessionImages,
  execWrapper: TEST_POLICY.execWrapper,
};

const VALUE_SETS: Record<string, { values: Record<string, unknown>; check(objs: K8sObject[]): void }> = {
  defaults: {
    values: {},
    check(objs) {
      expect(find(objs, 'ClusterRoleBinding', ':viewers')).toBeUndefined();
      expect(find(objs, 'ClusterRole', ':viewer')?.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-view']).toBe('true');
      expect(find(objs, 'Deployment', '-operator')?.spec).toMatchObject({ replicas: 2 });
    },
  },
  production: {
    values: {
      config: {
        approvedRegistries: ['registry.corp.example/debug/', 'ghcr.io/corp/debug/'],
        maxTtl: '2h',
        allowedProfiles: ['restricted'],
        grantCreators: { users: ['system:serviceaccount:argocd:argocd-application-controller'], groups: ['sre-approvers'] },
        breakGlassGroups: ['sre-break-glass'],
        namespaces: ['shop', 'payments'],
        metrics: { bindAddress: ':9443', secure: true, certDir: '/etc/debuggrant/metrics-tls' },
      },
      viewers: { groups: ['sre'], users: ['auditor@corp.example'] },
      prometheus: { enabled: true },
      metricsReaders: [{ kind: 'ServiceAccount', name: 'prometheus-k8s', namespace: 'monitoring' }],
      image: { repository: 'registry.corp.example/platform/debuggrant', digest: `sha256:${'d'.repeat(64)}` },
      extraVolumes: [{ name: 'metrics-tls', secret: { secretName: 'debuggrant-metrics-tls' } }],
      extraVolumeMounts: [{ name: 'metrics-tls', mountPath: '/etc/debuggrant/metrics-tls', readOnly: true }],
    },
    check(objs) {
      expect(find(objs, 'ClusterRoleBinding', ':viewers')?.subjects).toEqual([
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'auditor@corp.example' },
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'sre' },
      ]);
      expect(find(objs, 'ClusterRoleBinding', ':metrics-readers')?.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'prometheus-k8s', namespace: 'monitoring' },
      ]);
      const deployment = JSON.stringify(find(objs, 'Deployment', '-operator'));
      expect(deployment).toContain(`"image":"registry.corp.example/platform/debuggrant@sha256:${'d'.repeat(64)}"`);
      expect(deployment).toContain('{"name":"metrics","containerPort":9443}');
      expect(deployment).toContain('"mountPath":"/etc/debuggrant/metrics-tls"');
      expect(renderedConfig(objs).namespaces).toEqual(['shop', 'payments']);
      // The alerts and the ServiceMonitor of config/prometheus, pointed at this release's pods over HTTPS.
      const monitor = find(objs, 'ServiceMonitor', '-operator');
      expect(monitor?.spec).toMatchObject({
        selector: { matchLabels: { 'app.kubernetes.io/name': 'dg-production-operator' } },
        endpoints: [{ port: 'metrics', scheme: 'https' }],
      });
      expect(find(objs, 'Service', '-metrics')?.metadata.labels?.['app.kubernetes.io/name']).toBe('dg-production-operator');
      const rules = JSON.stringify(find(objs, 'PrometheusRule', 'dg-production')?.spec);
      expect(rules).toContain('DebugGrantPastDeadline');
      expect(rules).toContain('up{job=\\"dg-production-operator-metrics\\"}');
    },
  },
  minimal: {
    values: {
      config: { leaderElection: { enabled: false }, metrics: { bindAddress: '0' } },
      replicaCount: 1,
      admission: { enabled: false },
      viewers: { aggregateToView: false },
      flowControl: { enabled: false },
    },
    check(objs) {
      expect(objs.filter(isPolicy)).toEqual([]);
      expect(objs.filter((o) => o.apiVersion.startsWith('flowcontrol.'))).toEqual([]);
      expect(find(objs, 'Service', '-metrics')).toBeUndefined();
      expect(JSON.stringify(find(objs, 'Deployment', '-operator'))).not.toContain('"name":"metrics"');
      expect(find(objs, 'ClusterRole', ':viewer')?.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-view']).toBeUndefined();
      expect(renderedConfig(objs).leaderElection.enabled).toBe(false);
    },
  },
};

describe('Helm chart', () => {
  beforeAll(() => {
    ensureHelm();
  }, 30 * 60_000);
  afterAll(removeStoredClusterWide);

  test('helm lint is clean with each value set', async () => {
    for (const [name, set] of Object.entries(VALUE_SETS)) {
      const out = await helm(['lint', CHART, '--strict', '-f', valuesFile(set.values)]);
      expect({ name, code: out.code, problems: out.stdout.split('\n').filter((l) => /\[(WARNING|ERROR)\]/.test(l)) }).toEqual({ name, code: 0, problems: [] });
    }
  });

  test.each([
    [{ config: { maxTTL: '2h' } }, "additional properties 'maxTTL' not allowed"],
    [{ config: { approvedRegistries: [] } }, '/config/approvedRegistries'],
    [{ config: { metrics: { secure: 'sometimes' } } }, '/config/metrics/secure'],
    [{ image: { digest: 'latest' } }, '/image/digest'],
  ])('bad values %j are refused before anything renders, naming the key', async (values, message) => {
    const out = await helm(['template', 'debuggrant', CHART, '-f', valuesFile(values)]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(message);
    expect(out.stdout).toBe('');
  });

  test('its defaults render what config/default (kustomize) ships, object for object', async () => {
    const chart = await template('debuggrant', 'debuggrant-system', {});
    const kustomized = await kubectl('admin', ['kustomize', join(REPO_ROOT, 'config/default')]);
    expect(kustomized.code).toBe(0);
    // The chart leaves creating the release namespace to helm (--create-namespace).
    const expected = docs(kustomized.stdout).filter((o) => o.kind !== 'Namespace');
    expect(chart.map(keyOf).sort()).toEqual(expected.map(keyOf).sort());
    const byKey = new Map(chart.map((o) => [keyOf(o), o]));
    for (const o of expected) expect({ [keyOf(o)]: comparable(byKey.get(keyOf(o)) ?? o) }).toEqual({ [keyOf(o)]: comparable(o) });
  });

  test.each(Object.keys(VALUE_SETS))('value set %s: applies to the API server, and one config drives ConfigMap, admission and RBAC', async (name) => {
    const set = VALUE_SETS[name];
    if (!set) throw new Error(name);
    const ns = await freshNamespace(`chart-${name}`);
    const objs = await template(`dg-${name}`, ns, set.values);
    const config = renderedConfig(objs);
    // The admission variables are what src/admission/render.ts makes of the same configuration.
    const expected = admissionVariables(config);
    for (const policy of objs.filter((o) => o.kind === 'ValidatingAdmissionPolicy' || o.kind === 'MutatingAdmissionPolicy')) {
      for (const v of policy.spec?.variables ?? []) if (v.name in expected) expect({ [v.name]: v.expression }).toEqual({ [v.name]: expected[v.name] });
    }
    const creators = find(objs, 'ClusterRoleBinding', ':creators');
    expect(creators?.subjects?.map((s) => `${s.kind} ${s.name}`)).toEqual([
      ...config.grantCreators.users.map((u) => `User ${u}`),
      ...config.grantCreators.groups.map((g) => `Group ${g}`),
    ]);
    expect(find(objs, 'Deployment', '-operator')?.metadata.labels?.['app.kubernetes.io/version']).toBe(VERSION);
    set.check(objs);
    // Applied for real, except policies whose variables differ from this run's: they would
    // bind every other test file running now, so the API server checks them without storing them.
    // The CRDs are the very files (links to crds/) the global setup installed, and other test
    // files re-apply them client-side; this API server has no Prometheus Operator CRDs.
    const notApplied = objs.filter((o) => o.kind === 'CustomResourceDefinition' || o.apiVersion.startsWith('monitoring.coreos.com/'));
    const policies = objs.filter(isPolicy);
    await apply(objs.filter((o) => !notApplied.includes(o) && !policies.includes(o)));
    await apply(policies, true);
  });

  describe('installed for real', () => {
    let ns = '';
    beforeAll(async () => {
      ns = await namespaceNamed(CHART_NAMESPACE);
      const objs = await template('dg-chart', ns, { config: TEST_CONFIG, viewers: { groups: ['chart-viewers'] } });
      await apply(objs.filter((o) => o.kind !== 'CustomResourceDefinition').map((o) => boundToNamespace(o, ns)));
    });

    test('reading grants cluster-wide is only for the viewers it names', async () => {
      const list = (user: string, groups: string[]): Promise<boolean> =>
        canI({ user, groups: [...groups, 'system:authenticated'], namespace: 'default', verb: 'list', resource: 'debuggrants', group: 'debuggrant.dev' });
      expect(await list('vera', ['chart-viewers'])).toBe(true);
      expect(await list('mallory', [])).toBe(false);
    });

    describeOperatorWithOwnToken("the operator with the chart's ServiceAccount token", () => ({
      namespace: ns,
      serviceAccount: 'dg-chart-operator',
      metricsReaderRole: 'dg-chart:metrics-reader',
      flowSchemas: { operator: 'dg-chart-operator', revocation: 'dg-chart-revocation', leaderElection: 'dg-chart-leader-election' },
    }));
  });
});
