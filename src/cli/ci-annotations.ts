// validate's problems as CI systems annotate a pull request with them: GitHub Actions
// workflow commands (::error file=…,line=…,col=…::message) and GitLab's Code Quality report
// (a JSON array; artifacts:reports:codequality). Pure: the report in, the text out.
import { createHash } from 'node:crypto';
import type { Problem } from './validate.ts';

/** GitHub's escaping: data gets %, CR, LF encoded; property values also ':' and ','. */
const ghData = (s: string): string => s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
const ghProperty = (s: string): string => ghData(s).replaceAll(':', '%3A').replaceAll(',', '%2C');

/** One `::error` line per problem; a problem with no position (an unreadable file) names the file only. */
export function githubAnnotations(problems: readonly Problem[]): string {
  return problems
    .map((p) => {
      const props = [`file=${ghProperty(p.file)}`];
      if (p.line > 0) props.push(`line=${String(p.line)}`, `col=${String(p.column)}`);
      props.push(`title=${ghProperty(`DebugGrant ${p.grant || p.file}${p.field ? `: ${p.field}` : ''}`)}`);
      return `::error ${props.join(',')}::${ghData(p.field ? `${p.field}: ${p.message}` : p.message)}\n`;
    })
    .join('');
}

export interface CodeQualityIssue {
  description: string;
  check_name: string;
  fingerprint: string;
  severity: 'info' | 'minor' | 'major' | 'critical' | 'blocker';
  location: { path: string; lines: { begin: number } };
}

/** GitLab Code Quality: paths relative to the repository (as given, without a leading ./). */
export function gitlabCodeQuality(problems: readonly Problem[]): string {
  const issues: CodeQualityIssue[] = problems.map((p) => {
    const path = p.file.replace(/^(\.\/)+/, '');
    const description = `${p.grant ? `${p.grant}: ` : ''}${p.field ? `${p.field}: ` : ''}${p.message}`;
    return {
      description,
      check_name: `debuggrant-validate${p.field ? `/${p.field.split('.').slice(0, 2).join('.')}` : ''}`,
      // Stable across runs and unique per problem (GitLab compares reports by it).
      fingerprint: createHash('sha256')
        .update(JSON.stringify([path, p.line, p.column, p.field, p.message]))
        .digest('hex'),
      // An invalid grant cannot be applied: it blocks the merge.
      severity: 'blocker',
      location: { path, lines: { begin: Math.max(1, p.line) } },
    };
  });
  return JSON.stringify(issues, null, 2) + '\n';
}
