// validate's CI formats, from a real validation of a bad file: GitHub Actions workflow
// commands and GitLab Code Quality JSON, with each system's escaping and shape.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { githubAnnotations, gitlabCodeQuality, type CodeQualityIssue } from '../../src/cli/ci-annotations.ts';
import { validatePaths, type Problem } from '../../src/cli/validate.ts';

const dir = mkdtempSync(join(tmpdir(), 'dg-ci-'));
const file = join(dir, 'bad.yaml');
writeFileSync(
  file,
  [
    'apiVersion: debuggrant.dev/v1alpha1',
    'kind: DebugGrant',
    'metadata: {name: inc-1, namespace: shop}',
    'spec:',
    '  subject: {kind: User, name: alice}',
    '  podSelector: {matchLabels: {app: a}}',
    '  image: x:latest',
    '  ttl: 1h',
    '  reason: INC-2 needs a look',
  ].join('\n'),
);
const problems = validatePaths([file], undefined).problems;

describe('validate -o github', () => {
  test('one ::error per problem, at its file, line and column', () => {
    expect(problems).toHaveLength(1);
    expect(githubAnnotations(problems)).toBe(
      `::error file=${file},line=7,col=3,title=DebugGrant shop/inc-1%3A spec.image::spec.image: ${problems[0]?.message ?? ''}\n`,
    );
  });

  test('escapes what the workflow command syntax reserves; no position when there is none', () => {
    const p: Problem = { file: 'a,b:c.yaml', line: 0, column: 0, grant: '', field: '', message: '100% broken\nsecond line' };
    expect(githubAnnotations([p])).toBe('::error file=a%2Cb%3Ac.yaml,title=DebugGrant a%2Cb%3Ac.yaml::100%25 broken%0Asecond line\n');
    expect(githubAnnotations([])).toBe('');
  });
});

describe('validate -o gitlab', () => {
  test('a Code Quality report: description, check, stable fingerprint, severity, path and line', () => {
    const relative = problems.map((p) => ({ ...p, file: './shop/bad.yaml' }));
    const issues = JSON.parse(gitlabCodeQuality(relative)) as CodeQualityIssue[];
    expect(issues[0]?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(issues).toEqual([
      {
        description: `shop/inc-1: spec.image: ${problems[0]?.message ?? ''}`,
        check_name: 'debuggrant-validate/spec.image',
        fingerprint: issues[0]?.fingerprint,
        severity: 'blocker',
        location: { path: 'shop/bad.yaml', lines: { begin: 7 } },
      },
    ]);
    expect(JSON.parse(gitlabCodeQuality(relative))).toEqual(issues);
    const other = JSON.parse(gitlabCodeQuality([{ ...(relative[0] as Problem), line: 8 }])) as CodeQualityIssue[];
    expect(other[0]?.fingerprint).not.toBe(issues[0]?.fingerprint);
    expect(gitlabCodeQuality([])).toBe('[]\n');
  });
});
