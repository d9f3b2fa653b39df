// `kubectl debuggrant validate` gives the API server's verdict offline: every grant of the
// catalogue goes through the CLI (one process, -o json, as PR CI runs it) and through the
// real API server (kubectl apply --dry-run=server, strict field validation); both must
// accept it, or both refuse it naming the same thing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { API_VERSION, KIND } from '../../src/api/schema.ts';
import type { ValidationReport } from '../../src/cli/validate.ts';
import { CATALOGUE } from '../fixtures/grant-catalogue.ts';
import { freshNamespace, kubectl } from '../support/cluster.ts';
import { cli } from '../support/cli.ts';

describe('validate and the API server agree on every grant of the catalogue', () => {
  let ns: string;
  let dir: string;
  let report: ValidationReport;
  let exitCode: number;
  const fileOf = (i: number) => join(dir, `case-${String(i).padStart(2, '0')}.yaml`);
  const docOf = (i: number) => {
    const c = CATALOGUE[i];
    return { apiVersion: API_VERSION, kind: KIND, metadata: { name: c?.metadataName ?? `case-${String(i)}`, namespace: ns }, spec: c?.spec };
  };

  beforeAll(async () => {
    // The CRD's verdict: the catalogue's valid grants also pass the grant-creation policy for
    // the GitOps identity (admission.test.ts covers its refusals); the CRD judges before it.
    ns = await freshNamespace('agree');
    dir = mkdtempSync(join(tmpdir(), 'dg-agree-'));
    CATALOGUE.forEach((_, i) => {
      writeFileSync(fileOf(i), stringify(docOf(i)));
    });
    const out = await cli('admin', ['validate', dir, '-o', 'json']);
    exitCode = out.code;
    report = JSON.parse(out.stdout) as ValidationReport;
  });

  test('one CLI run saw every grant and exits 1 for the bad ones', () => {
    expect(report.grants).toBe(CATALOGUE.length);
    expect(exitCode).toBe(1);
  });

  test.each(CATALOGUE.map((c, i) => [c.name, i] as const))('%s', async (_name, i) => {
    const c = CATALOGUE[i];
    const problems = report.problems.filter((p) => p.file === fileOf(i));
    const server = await kubectl('gitops', ['apply', '--dry-run=server', '--validate=strict', '-f', fileOf(i)]);
    const verdicts = { validate: problems.length === 0 ? 'accepted' : 'refused', apiServer: server.code === 0 ? 'accepted' : 'refused' };
    expect(verdicts).toEqual({ validate: c?.error === undefined ? 'accepted' : 'refused', apiServer: c?.error === undefined ? 'accepted' : 'refused' });
    if (c?.error !== undefined) {
      expect(problems.map((p) => `${p.field}: ${p.message}`).join('\n')).toContain(c.error);
      expect(server.stderr).toContain(c.error);
      // At the field: a line and column inside the document, each problem once.
      for (const p of problems) expect(p.line).toBeGreaterThan(0);
      expect(new Set(problems.map((p) => `${String(p.line)}:${String(p.column)} ${p.message}`)).size).toBe(problems.length);
    }
  });
});
