// `kubectl debuggrant validate FILE|DIR…`: offline checks for PR CI, giving the verdict the
// API server would (CRD schema and CEL, name and label rules: the zod schema states them)
// and, with --config, the operator's policy. Each problem once, at its field.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { grantPolicyProblems, reservedNamespaceProblem } from '../api/policy.ts';
import { DebugGrantDocumentSchema, GROUP, KIND, fieldIssues, fieldPath, type FieldIssue } from '../api/schema.ts';
import { ConfigError, loadConfig, type OperatorConfig } from '../config.ts';
import { str, type Invocation } from './args.ts';
import { githubAnnotations, gitlabCodeQuality } from './ci-annotations.ts';
import { UsageError } from './errors.ts';
import { yamlFiles } from './grant-files.ts';
import { EXIT_OK, EXIT_PROBLEMS } from './spec.ts';

export interface Problem {
  file: string;
  line: number;
  column: number;
  /** namespace/name of the grant, when known. */
  grant: string;
  /** The field, as kubectl names it (spec.podSelector.matchLabels.tier!), or '' for the whole document. */
  field: string;
  message: string;
}

export interface ValidationReport {
  valid: boolean;
  files: number;
  grants: number;
  problems: Problem[];
}

/** Problems of one grant document (parsed YAML), schema first, then policy when configured. */
export function grantProblems(value: unknown, config: OperatorConfig | undefined): FieldIssue[] {
  const parsed = DebugGrantDocumentSchema.safeParse(value);
  if (!parsed.success) return fieldIssues(parsed.error);
  if (!config) return [];
  const reserved = reservedNamespaceProblem(parsed.data.metadata.namespace, config.reservedNamespaces);
  return [
    ...(reserved ? [{ path: ['metadata', 'namespace'], message: reserved }] : []),
    ...grantPolicyProblems(parsed.data.spec, config).map((p) => {
      const [field = '', ...rest] = p.split(': ');
      return { path: field.split('.'), message: rest.join(': ') };
    }),
  ];
}

/** 1-based line and column of the deepest part of `path` present in the document. */
function locate(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): { line: number; column: number } {
  let node: unknown = doc.contents;
  let offset = doc.contents?.range?.[0] ?? 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      if (isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (!item || typeof item !== 'object' || !('range' in item)) break;
      offset = (item as { range: [number] }).range[0];
      node = item;
    } else {
      break;
    }
  }
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

export function validatePaths(paths: string[], config: OperatorConfig | undefined): ValidationReport {
  const files = paths.flatMap(yamlFiles);
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const add = (p: Problem): void => {
    const key = JSON.stringify([p.file, p.line, p.column, p.field, p.message]);
    if (!seen.has(key)) problems.push(p);
    seen.add(key);
  };
  const where = new Map<string, string>();
  let grants = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      add({ file, line: 0, column: 0, grant: '', field: '', message: 'cannot read this file' });
      continue;
    }
    const lines = new LineCounter();
    for (const doc of parseAllDocuments(text, { lineCounter: lines })) {
      const [first] = doc.errors;
      if (first) {
        // Later errors of a broken document are echoes of the first.
        const [line = 0, column = 0] = first.linePos ? [first.linePos[0].line, first.linePos[0].col] : [];
        add({
          file,
          line,
          column,
          grant: '',
          field: '',
          message: `not valid YAML: ${(first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
        });
        continue;
      }
      const value: unknown = doc.toJS();
      if (!value || typeof value !== 'object') continue;
      const { kind, apiVersion, metadata } = value as { kind?: unknown; apiVersion?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
      const ours = typeof apiVersion === 'string' && apiVersion.startsWith(`${GROUP}/`);
      if (kind !== KIND && !ours) continue;
      const grant = `${typeof metadata?.namespace === 'string' ? metadata.namespace : '?'}/${typeof metadata?.name === 'string' ? metadata.name : '?'}`;
      if (kind !== KIND) {
        add({ file, ...locate(doc, lines, ['kind']), grant, field: 'kind', message: `must be ${KIND} (the only kind written in Git; got ${String(kind)})` });
        continue;
      }
      grants++;
      for (const issue of grantProblems(value, config)) {
        add({ file, ...locate(doc, lines, issue.path), grant, field: fieldPath(issue.path), message: issue.message });
      }
      const firstSeen = where.get(grant);
      if (firstSeen)
        add({
          file,
          ...locate(doc, lines, ['metadata', 'name']),
          grant,
          field: 'metadata.name',
          message: `${grant} is also defined at ${firstSeen}: one file per grant`,
        });
      else where.set(grant, `${file}:${String(locate(doc, lines, []).line)}`);
    }
  }
  return { valid: problems.length === 0, files: files.length, grants, problems };
}

export function formatReport(r: ValidationReport, withPolicy: boolean): string {
  const lines = r.problems.map((p) => `${p.file}:${String(p.line)}:${String(p.column)}: ${p.field ? `${p.field}: ` : ''}${p.message}`);
  const summary = r.valid
    ? `ok: ${String(r.grants)} DebugGrant(s) in ${String(r.files)} file(s) are valid${withPolicy ? '' : ' (schema only: pass --config for the cluster policy)'}`
    : `${String(r.problems.length)} problem(s) in ${String(r.grants)} DebugGrant(s), ${String(r.files)} file(s)`;
  return [...lines, summary].join('\n') + '\n';
}

function formatted(format: string | undefined, report: ValidationReport, withPolicy: boolean): string {
  switch (format) {
    case 'json':
      return JSON.stringify(report, null, 2) + '\n';
    case 'github':
      return githubAnnotations(report.problems);
    case 'gitlab':
      return gitlabCodeQuality(report.problems);
    default:
      return formatReport(report, withPolicy);
  }
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

export function runValidate(inv: Invocation): number {
  if (inv.positionals.length === 0) throw new UsageError('validate needs at least one FILE or DIR');
  const configFile = str(inv.flags, 'config');
  const config = configFile ? configFrom(configFile) : undefined;
  const report = validatePaths(inv.positionals, config);
  if (report.files === 0) throw new UsageError(`no *.yaml or *.yml files in ${inv.positionals.join(', ')}`);
  if (report.grants === 0 && report.valid)
    throw new UsageError(`no DebugGrant in ${String(report.files)} file(s) of ${inv.positionals.join(', ')}: nothing was checked`);
  process.stdout.write(formatted(str(inv.flags, 'output'), report, config !== undefined));
  return report.valid ? EXIT_OK : EXIT_PROBLEMS;
}
