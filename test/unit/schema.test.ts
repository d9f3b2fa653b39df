import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { DURATION_PATTERN, formatDuration, parseDuration } from '../../src/api/duration.ts';
import { API_VERSION, DebugGrantDocumentSchema, IMAGE_PATTERN, KIND, describeIssues } from '../../src/api/schema.ts';
import { LABEL_KEY_MESSAGE, LABEL_VALUE_MESSAGE, LABEL_VALUE_PATTERN, QUALIFIED_NAME_PATTERN } from '../../src/api/labels.ts';
import { CATALOGUE } from '../fixtures/grant-catalogue.ts';

interface SchemaNode {
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
}
const version = (
  parse(readFileSync(new URL('../../crds/debuggrant.dev_debuggrants.yaml', import.meta.url), 'utf8')) as {
    spec: { versions: { additionalPrinterColumns: { name: string; type: string; priority?: number }[]; schema: { openAPIV3Schema: SchemaNode } }[] };
  }
).spec.versions[0];

/** Every field below `node` that has no description (metadata is Kubernetes' own). */
function undescribed(node: SchemaNode, path: string): string[] {
  const own = node.description ? [] : [path];
  const children = Object.entries(node.properties ?? {})
    .filter(([k]) => k !== 'metadata')
    .flatMap(([k, v]) => undescribed(v, `${path}.${k}`));
  return [...own, ...children, ...(node.items ? undescribed(node.items, `${path}[]`).filter((p) => node.items?.properties || p !== `${path}[]`) : [])];
}
/** A regular expression as it appears inside a single-quoted CEL string. */
const inCel = (pattern: string): string => `'${pattern.replaceAll('\\', '\\\\')}'`;

interface Props {
  properties: Record<string, Props & { pattern?: string; enum?: string[] }>;
}
const crd = parse(readFileSync(new URL('../../crds/debuggrant.dev_debuggrants.yaml', import.meta.url), 'utf8')) as {
  spec: { versions: { schema: { openAPIV3Schema: Props } }[] };
};
const specProps = crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec?.properties ?? {};

describe('DebugGrant schema', () => {
  test('the CRD uses the very patterns and enums zod uses', () => {
    expect(specProps.image?.pattern).toBe(IMAGE_PATTERN);
    expect(specProps.ttl?.pattern).toBe(DURATION_PATTERN);
    expect(specProps.profile?.enum).toEqual(['general', 'baseline', 'restricted', 'netadmin', 'sysadmin']);
  });

  test('every field has a description for kubectl explain', () => {
    expect(undescribed(version?.schema.openAPIV3Schema ?? {}, 'dg')).toEqual([]);
  });

  test('the CRD checks label keys and values with the patterns zod uses', () => {
    const selector = version?.schema.openAPIV3Schema.properties?.spec?.properties?.podSelector;
    const rules = [
      ...(selector?.properties?.matchLabels?.['x-kubernetes-validations'] ?? []),
      ...(selector?.properties?.matchExpressions?.items?.['x-kubernetes-validations'] ?? []),
    ];
    expect(rules.filter((r) => r.rule.includes(inCel(QUALIFIED_NAME_PATTERN))).map((r) => r.message)).toEqual([LABEL_KEY_MESSAGE, LABEL_KEY_MESSAGE]);
    expect(rules.filter((r) => r.rule.includes(inCel(LABEL_VALUE_PATTERN))).map((r) => r.message)).toEqual([LABEL_VALUE_MESSAGE, LABEL_VALUE_MESSAGE]);
  });

  test('kubectl get dg: Age as a date; image, profile, access and the session count with -o wide', () => {
    const columns = version?.additionalPrinterColumns ?? [];
    expect(columns.filter((c) => !c.priority).map((c) => c.name)).toEqual(['Subject', 'Phase', 'Pods', 'Expires', 'Reason', 'Age']);
    expect(columns.find((c) => c.name === 'Age')?.type).toBe('date');
    expect(columns.filter((c) => c.priority === 1).map((c) => c.name)).toEqual(['Image', 'Profile', 'Access', 'Sessions', 'Bounded']);
  });

  test.each(CATALOGUE)('zod: $name', (c) => {
    const result = DebugGrantDocumentSchema.safeParse({
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: c.metadataName ?? 'g', namespace: 'ns' },
      spec: c.spec,
    });
    if (c.error === undefined) {
      expect(result.error).toBeUndefined();
    } else {
      expect(result.success).toBe(false);
      expect(describeIssues(result.error!).join('\n')).toContain(c.error); // eslint-disable-line @typescript-eslint/no-non-null-assertion
    }
  });

  test('defaults: debug access, restricted profile, Flag on expiry', () => {
    const ok = DebugGrantDocumentSchema.parse({ apiVersion: API_VERSION, kind: KIND, metadata: { name: 'g', namespace: 'n' }, spec: CATALOGUE[0]?.spec });
    expect(ok.spec).toMatchObject({ access: ['debug'], profile: 'restricted', onExpiry: 'Flag' });
  });

  test('durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('')).toBeUndefined();
    expect(parseDuration('1d')).toBeUndefined();
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0s');
  });
});
