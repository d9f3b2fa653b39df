// Bad grants: the API server refuses what the CRD can judge (and zod refuses the same),
// the operator Denies what depends on its policy; none of them ever gets RBAC.
import { describeIssues, DebugGrantDocumentSchema, API_VERSION, KIND } from '../../src/api/schema.ts';
import { canI, createPod, eventually, freshNamespace, kubectl } from '../support/cluster.ts';
import { allRbac, createGrant, getGrant, grantSpec } from '../support/grants.ts';
import { APPROVED_REGISTRY, startTestOperator, type TestOperator } from '../support/operator.ts';
import { CATALOGUE } from '../fixtures/grant-catalogue.ts';
import { stringify } from 'yaml';

describe('the CRD and the zod schema agree on one catalogue', () => {
  let ns: string;
  // The CRD's own verdicts, which come before the grant-creation policy's: the catalogue's
  // valid grants pass that policy for the GitOps identity (its refusals: admission.test.ts).
  beforeAll(async () => {
    ns = await freshNamespace('schema');
  });

  test.each(CATALOGUE)('$name', async (c) => {
    const name = c.metadataName ?? `case-${CATALOGUE.indexOf(c)}`;
    const doc = { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: ns }, spec: c.spec };
    const zod = DebugGrantDocumentSchema.safeParse(doc);
    // kubectl validates strictly on the server: unknown fields are errors, not silently pruned.
    const applied = await kubectl('gitops', ['apply', '--validate=strict', '-f', '-'], stringify(doc));
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
  // Defense in depth: what the admission policy let through because it was configured less
  // strictly than the operator (or was not there when the grant was created), the operator
  // still denies. The policy approves the registry prefix APPROVED_REGISTRY, ttl up to 4h and
  // every profile; this operator only STRICT_REGISTRY, 2h, restricted and baseline.
  const STRICT_REGISTRY = `${APPROVED_REGISTRY}strict/`;
  const strictImage = `${STRICT_REGISTRY}netshoot@sha256:${'f'.repeat(64)}`;
  beforeAll(async () => {
    const notAfter = new Date(Date.now() + 3000).toISOString();
    ns = await freshNamespace('denied');
    await createPod(ns, 'checkout-1', { app: 'checkout' });
    // Created while no operator runs, with a notAfter the policy accepts, reached before one starts.
    await createGrant(ns, 'not-after-past', grantSpec({ image: strictImage, notAfter }));
    await new Promise((r) => setTimeout(r, Date.parse(notAfter) - Date.now() + 500));
    op = await startTestOperator([ns], { approvedRegistries: [STRICT_REGISTRY], maxTtl: '2h', allowedProfiles: ['restricted', 'baseline'] });
  });
  afterAll(async () => {
    await op.stop();
  });

  const cases: [string, Record<string, unknown> | undefined, string, RegExp][] = [
    ['unapproved-registry', {}, 'PolicyViolation', new RegExp(`not from an approved registry \\(${STRICT_REGISTRY}\\)`)],
    ['ttl-over-max', { image: strictImage, ttl: '3h' }, 'PolicyViolation', /longer than this cluster's maximum of 2h/],
    ['profile-not-allowed', { image: strictImage, profile: 'sysadmin' }, 'PolicyViolation', /profile: sysadmin is not allowed here/],
    ['not-after-past', undefined, 'NotAfterInPast', /notAfter 20\S+ is already past/],
  ];

  test.each(cases)('%s ends Denied with an actionable message and no RBAC', async (name, over, reason, message) => {
    if (over) await createGrant(ns, name, grantSpec(over));
    const g = await eventually(
      () => getGrant(ns, name),
      (x) => x?.status?.phase !== undefined,
    );
    expect(g?.status?.phase).toBe('Denied');
    const denied = g?.status?.conditions?.find((c) => c.type === 'Denied');
    expect(denied?.reason).toBe(reason);
    expect(denied?.message).toMatch(message);
    expect(await allRbac(ns)).toEqual([]);
    expect(await canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'checkout-1' })).toBe(false);
    expect(
      op
        .audits()
        .filter((a) => a.grant === `${ns}/${name}`)
        .map((a) => a.event),
    ).toEqual(['grant.denied']);
  });
});
