// Bad grants: the API server refuses what the CRD can judge (and zod refuses the same),
// the operator Denies what depends on its policy; none of them ever gets RBAC.
import { describeIssues, DebugGrantDocumentSchema, API_VERSION, KIND } from '../../src/api/schema.ts';
import { canI, createPod, eventually, freshNamespace, kubectl } from '../support/cluster.ts';
import { allRbac, createGrant, getGrant, grantSpec } from '../support/grants.ts';
import { APPROVED_REGISTRY, startTestOperator, type TestOperator } from '../support/operator.ts';
import { CATALOGUE } from '../fixtures/grant-catalogue.ts';
import { EXEMPT } from '../support/policy.ts';
import { stringify } from 'yaml';

describe('the CRD and the zod schema agree on one catalogue', () => {
  let ns: string;
  // The CRD's own verdicts: outside the admission policies (tested in admission.test.ts).
  beforeAll(async () => { ns = await freshNamespace('schema', EXEMPT); });

  test.each(CATALOGUE)('$name', async (c) => {
    const name = c.metadataName ?? `case-${CATALOGUE.indexOf(c)}`;
    const doc = { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: ns }, spec: c.spec };
    const zod = DebugGrantDocumentSchema.safeParse(doc);
    // kubectl validates strictly on the server: unknown fields are errors, not silently pruned.
    const applied = await kubectl('admin', ['apply', '--validate=strict', '-f', '-'], stringify(doc));
    if (c.error === undefined) {
      expect(zod.success).toBe(true);
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
    } else {
      expect(zod.success).toBe(false);
      expect(describeIssues(zod.error!).join('\n')).toContain(c.error); // eslint-disable-line @typescript-eslint/no-non-null-assertion
      expect(applied.code).not.toBe(0);
      expect(applied.stderr).toContain(c.error);
      const listed = await kubectl('admin', ['get', 'dg', name, '-n', ns, '--ignore-not-found', '-o', 'name']);
      expect(listed.stdout.trim()).toBe('');
    }
  });
});

describe('grants the operator policy denies', () => {
  let ns: string;
  let op: TestOperator;
  beforeAll(async () => {
    // Defense in depth: where the admission policy is not enforced, the operator still denies.
    ns = await freshNamespace('denied', EXEMPT);
    await createPod(ns, 'checkout-1', { app: 'checkout' });
    op = await startTestOperator([ns], { maxTtl: '2h', allowedProfiles: ['restricted', 'baseline'] });
  });
  afterAll(async () => { await op.stop(); });

  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['unapproved-registry', { image: `docker.io/nicolaka/netshoot@sha256:${'f'.repeat(64)}` }, 'PolicyViolation', new RegExp(`not from an approved registry \\(${APPROVED_REGISTRY}\\)`)],
    ['ttl-over-max', { ttl: '3h' }, 'PolicyViolation', /longer than this cluster's maximum of 2h/],
    ['profile-not-allowed', { profile: 'sysadmin' }, 'PolicyViolation', /profile: sysadmin is not allowed here/],
    ['not-after-past', { notAfter: '2020-01-01T00:00:00Z' }, 'NotAfterInPast', /notAfter 2020-01-01T00:00:00Z is already past/],
  ];

  test.each(cases)('%s ends Denied with an actionable message and no RBAC', async (name, over, reason, message) => {
    await createGrant(ns, name, grantSpec(over));
    const g = await eventually(() => getGrant(ns, name), (x) => x?.status?.phase !== undefined);
    expect(g?.status?.phase).toBe('Denied');
    const denied = g?.status?.conditions?.find((c) => c.type === 'Denied');
    expect(denied?.reason).toBe(reason);
    expect(denied?.message).toMatch(message);
    expect(await allRbac(ns)).toEqual([]);
    expect(await canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'checkout-1' })).toBe(false);
    expect(op.audits().filter((a) => a.grant === `${ns}/${name}`).map((a) => a.event)).toEqual(['grant.denied']);
  });
});
