import { withoutManagedFields } from '../../src/kube/strip-managed-fields.ts';
import { realisticPodSpec, runningStatus } from '../support/pods.ts';

const MANAGED = [
  {
    manager: 'kube-controller-manager',
    operation: 'Update',
    apiVersion: 'v1',
    time: '2026-12-05T03:07:59Z',
    fieldsType: 'FieldsV1',
    // Keys hold quotes, brackets and braces inside strings, as the API server writes them.
    fieldsV1: { 'f:metadata': { 'f:ownerReferences': { '.': {}, 'k:{"uid":"a]b}c"}': {} } }, 'f:spec': { 'f:containers': { 'k:{"name":"app\\\\"}': {} } } },
  },
  { manager: 'kubelet', operation: 'Update', subresource: 'status', fieldsV1: { 'f:status': { 'f:conditions': { 'k:{"type":"Ready"}': {} } } } },
];

/** Parsing the stripped text gives the parsed object without managedFields, key order kept. */
function expectStripped(value: unknown, expected: unknown, text = JSON.stringify(value)): void {
  const stripped = withoutManagedFields(text);
  expect(stripped).not.toContain('kube-controller-manager');
  expect(JSON.parse(stripped)).toEqual(expected);
  expect(JSON.stringify(JSON.parse(stripped))).toBe(JSON.stringify(expected));
}

describe('managedFields are cut from JSON text before it is parsed', () => {
  test('a list page of pods as metadata: every item loses managedFields, nothing else changes', () => {
    const items = [0, 1, 2].map((i) => ({
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { ...realisticPodSpec(`p-${String(i)}`, { app: 'a' }, 'img').metadata, uid: `u-${String(i)}`, managedFields: MANAGED },
    }));
    const page = { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: '9', continue: 'x' }, items };
    const expected = structuredClone(page);
    for (const item of expected.items) delete (item.metadata as { managedFields?: unknown }).managedFields;
    expectStripped(page, expected);
  });

  test('a whole pod and a watch event line', () => {
    const pod = { ...realisticPodSpec('p', { app: 'a' }, 'img'), status: runningStatus(3, 'img') };
    const event = { type: 'MODIFIED', object: { ...pod, metadata: { ...pod.metadata, managedFields: MANAGED, resourceVersion: '12' } } };
    expectStripped(event, {
      type: 'MODIFIED',
      object: JSON.parse(JSON.stringify({ ...pod, metadata: { ...pod.metadata, resourceVersion: '12' } })) as unknown,
    });
  });

  test('managedFields first, last or alone in metadata, with whitespace around', () => {
    expectStripped({ metadata: { managedFields: MANAGED, name: 'a' } }, { metadata: { name: 'a' } });
    expectStripped({ metadata: { name: 'a', managedFields: MANAGED } }, { metadata: { name: 'a' } });
    expectStripped({ metadata: { managedFields: MANAGED } }, { metadata: {} });
    expectStripped({ metadata: { managedFields: [] }, b: 1 }, { metadata: {}, b: 1 });
    const spaced = JSON.stringify({ metadata: { name: 'a', managedFields: MANAGED, uid: 'u' } }, null, 2);
    expectStripped(undefined, { metadata: { name: 'a', uid: 'u' } }, spaced);
  });

  test('what only looks like managedFields stays: a label or annotation of that name, the word inside a string', () => {
    const value = {
      metadata: {
        labels: { managedFields: 'x' },
        annotations: { note: 'see "managedFields":[1] here', 'x\\"managedFields': '[' },
        managedFields: MANAGED,
      },
      spec: { text: '\\"managedFields":[2]' },
    };
    expectStripped(value, { metadata: { labels: { managedFields: 'x' }, annotations: value.metadata.annotations }, spec: value.spec });
  });

  test('text without managedFields comes back as it is (same string), and invalid JSON is left for JSON.parse to refuse', () => {
    const text = JSON.stringify({ metadata: { name: 'a' } });
    expect(withoutManagedFields(text)).toBe(text);
    const broken = '{"metadata":{"managedFields":[{"a":"unterminated';
    expect(withoutManagedFields(broken)).toBe(broken);
    expect(() => JSON.parse(withoutManagedFields(broken)) as unknown).toThrow(SyntaxError);
  });
});
