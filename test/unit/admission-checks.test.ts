// README's table of what the ephemeral-containers policy checks, the catalogue of bad
// requests the integration test sends (test/support/ephemeral-catalogue.ts) and the
// policy's own messages must agree: a check added to one and not the others fails here.
import { readFileSync } from 'node:fs';
import { renderAdmissionPolicies } from '../../src/admission/render.ts';
import { API_SERVER, CATALOGUE, CHECKS, EXPIRED } from '../support/ephemeral-catalogue.ts';
import { TEST_POLICY } from '../support/policy.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Rows of README's table of checks: `| \`id\` | refused when | \`message\` |`. */
function readmeChecks(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const m of readme.matchAll(/^\| `([a-z-]+)` \| .+ \| (?:`([^`]+)`|the API server's own message) \|$/gm)) rows.set(m[1] ?? '', m[2] ?? '');
  return rows;
}

/** Every message and messageExpression of the ephemeral-containers policy, CEL quotes unescaped. */
function policyMessages(): string {
  const policy = renderAdmissionPolicies(TEST_POLICY).find(
    (d) => (d as { metadata?: { name?: string } }).metadata?.name === 'debuggrant-ephemeral-containers',
  ) as { spec?: { validations?: { message?: string; messageExpression?: string }[] } } | undefined;
  return (policy?.spec?.validations ?? [])
    .map((v) => `${v.message ?? ''} ${v.messageExpression ?? ''}`)
    .join('\n')
    .replaceAll("\\'", "'");
}

describe('README, catalogue and policy agree on what the policy checks', () => {
  test('README has one row per check, and one for what the API server refuses itself', () => {
    expect([...readmeChecks().keys()].sort()).toEqual([...Object.keys(CHECKS), API_SERVER].sort());
  });

  test.each(Object.entries(CHECKS))('%s: README and the policy say "%s"', (id, message) => {
    expect(readmeChecks().get(id)).toBe(message);
    expect(policyMessages()).toContain(message);
  });

  test('every check has bad requests in the catalogue, at least 80 in all', () => {
    const covered = new Set([...CATALOGUE, ...EXPIRED].map((c) => c.check));
    expect([...covered].sort()).toEqual([...Object.keys(CHECKS), API_SERVER].sort());
    expect(CATALOGUE.length + EXPIRED.length).toBeGreaterThanOrEqual(80);
  });

  test('each case names what it tries, once', () => {
    const names = [...CATALOGUE, ...EXPIRED.map((c) => ({ ...c, what: `expired: ${c.what}` }))].map((c) => c.what);
    expect(new Set(names).size).toBe(names.length);
  });
});
