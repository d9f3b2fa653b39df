// `kubectl debuggrant validate FILE|DIR…`: offline checks for PR CI, against the schema the
// CRD enforces and the policy the operator (and admission) enforce.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import { grantPolicyProblems } from '../api/policy.ts';
import { DebugGrantDocumentSchema, KIND, describeIssues } from '../api/schema.ts';
import { ConfigError, loadConfig, type OperatorConfig } from '../config.ts';
import { str, type Invocation } from './args.ts';
import { UsageError } from './errors.ts';
import { EXIT_OK, EXIT_PROBLEMS } from './spec.ts';

export interface Problem {
  file: string;
  line: number;
  grant: string;
  message: string;
}

export interface ValidationReport {
  valid: boolean;
  files: number;
  grants: number;
  problems: Problem[];
}

function yamlFiles(path: string): string[] {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return [path]; // reported as unreadable below
  if (!st.isDirectory()) return [path];
  return readdirSync(path).sort().flatMap((entry) => {
    const full = join(path, entry);
    return statSync(full).isDirectory() ? yamlFiles(full) : /\.ya?ml$/.test(entry) ? [full] : [];
  });
}

export function validatePaths(paths: string[], config: OperatorConfig | undefined): ValidationReport {
  const files = paths.flatMap(yamlFiles);
  const problems: Problem[] = [];
  let grants = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      problems.push({ file, line: 0, grant: '', message: 'cannot read this file' });
      continue;
    }
    const lines = new LineCounter();
    for (const doc of parseAllDocuments(text, { lineCounter: lines })) {
      const line = lines.linePos(doc.range[0]).line;
      if (doc.errors.length > 0) {
        for (const e of doc.errors) problems.push({ file, line: e.linePos?.[0].line ?? line, grant: '', message: `not valid YAML: ${e.message.split('\n')[0] ?? ''}` });
        continue;
      }
      const value: unknown = doc.toJS();
      if (!value || typeof value !== 'object' || (value as { kind?: unknown }).kind !== KIND) continue;
      grants++;
      const meta = (value as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
      const grant = `${typeof meta?.namespace === 'string' ? meta.namespace : '?'}/${typeof meta?.name === 'string' ? meta.name : '?'}`;
      const parsed = DebugGrantDocumentSchema.safeParse(value);
      const messages = parsed.success
        ? (config ? grantPolicyProblems(parsed.data.spec, config) : [])
        : describeIssues(parsed.error);
      for (const message of messages) problems.push({ file, line, grant, message });
    }
  }
  return { valid: problems.length === 0, files: files.length, grants, problems };
}

export function formatReport(r: ValidationReport, withPolicy: boolean): string {
  const lines = r.problems.map((p) => `${p.file}:${String(p.line)}: ${p.grant ? `${p.grant}: ` : ''}${p.message}`);
  const summary = r.valid
    ? `ok: ${String(r.grants)} DebugGrant(s) in ${String(r.files)} file(s) are valid${withPolicy ? '' : ' (schema only: pass --config for the cluster policy)'}`
    : `${String(r.problems.length)} problem(s) in ${String(r.grants)} DebugGrant(s), ${String(r.files)} file(s)`;
  return [...lines, summary].join('\n') + '\n';
}

export function runValidate(inv: Invocation): number {
  if (inv.positionals.length === 0) throw new UsageError('validate needs at least one FILE or DIR');
  const configFile = str(inv.flags, 'config');
  const config = configFile ? configFrom(configFile) : undefined;
  const report = validatePaths(inv.positionals, config);
  process.stdout.write(str(inv.flags, 'output') === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatReport(report, config !== undefined));
  return report.valid ? EXIT_OK : EXIT_PROBLEMS;
}

/** The operator configuration named by --config; a bad one is a usage error. */
export function configFrom(file: string): OperatorConfig {
  try {
    return loadConfig({ DEBUGGRANT_CONFIG: file });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`--config: ${err.message}`);
    throw err;
  }
}
