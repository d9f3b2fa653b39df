// The operator's request histogram says which custom resource a request was for: the index,
// the histories and the grants share the generic custom-object methods.
import { Histogram, Registry } from 'prom-client';
import type { KubeApi } from '../../src/kube/client.ts';
import { instrumentApi } from '../../src/kube/instrument.ts';
import { refused } from '../support/recording-api.ts';

function histogram(): { registry: Registry; histogram: Histogram } {
  const registry = new Registry();
  const h = new Histogram({ name: 'requests', help: 'requests', labelNames: ['operation', 'code', 'resource'], registers: [registry] });
  return { registry, histogram: h };
}

const answering = {
  replaceNamespacedCustomObject: () => Promise.resolve({}),
  createNamespacedRole: () => Promise.resolve({}),
  createNamespacedCustomObject: () => Promise.reject(refused(409, 'conflict')),
};
const api = { custom: answering, rbac: answering, core: {}, authz: {}, batch: {}, coordination: {} } as unknown as KubeApi;

test('custom-object requests are counted by their resource; others by operation alone', async () => {
  const { registry, histogram: h } = histogram();
  const measured = instrumentApi(api, h);
  await measured.custom.replaceNamespacedCustomObject({
    group: 'debuggrant.dev',
    version: 'v1alpha1',
    namespace: 'shop',
    plural: 'debuggrantindexes',
    name: 'grants',
    body: {},
  });
  await measured.custom.replaceNamespacedCustomObject({
    group: 'debuggrant.dev',
    version: 'v1alpha1',
    namespace: 'ops',
    plural: 'debuggranthistories',
    name: 'shop',
    body: {},
  });
  await expect(
    measured.custom.createNamespacedCustomObject({ group: 'debuggrant.dev', version: 'v1alpha1', namespace: 'ops', plural: 'debuggranthistories', body: {} }),
  ).rejects.toThrow('conflict');
  await measured.rbac.createNamespacedRole({ namespace: 'shop', body: {} });
  const counts = (await registry.getSingleMetric('requests')?.get())?.values
    .filter((v) => (v as { metricName?: string }).metricName === 'requests_count')
    .map((v) => v.labels);
  expect(counts).toEqual([
    { operation: 'replaceNamespacedCustomObject', code: '2xx', resource: 'debuggrantindexes' },
    { operation: 'replaceNamespacedCustomObject', code: '2xx', resource: 'debuggranthistories' },
    { operation: 'createNamespacedCustomObject', code: '409', resource: 'debuggranthistories' },
    { operation: 'createNamespacedRole', code: '2xx' },
  ]);
});
