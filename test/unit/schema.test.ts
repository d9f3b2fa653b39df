import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { DURATION_PATTERN, formatDuration, parseDuration } from '../../src/api/duration.ts';
import { API_VERSION, DebugGrantDocumentSchema, IMAGE_PATTERN, KIND, describeIssues } from '../../src/api/schema.ts';
import { CATALOGUE } from '../fixtures/grant-catalogue.ts';

interface Props { properties: Record<string, Props & { pattern?: string; enum?: string[] }> }
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

  test.each(CATALOGUE)('zod: $name', (c) => {
    const result = DebugGrantDocumentSchema.safeParse({ apiVersion: API_VERSION, kind: KIND, metadata: { name: c.metadataName ?? 'g', namespace: 'ns' }, spec: c.spec });
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
