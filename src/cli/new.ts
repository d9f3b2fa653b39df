// `kubectl debuggrant new`: a DebugGrant YAML for a pull request, validated before printing.
import { writeFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { stringify } from 'yaml';
import { parseDuration } from '../api/duration.ts';
import { API_VERSION, KIND, fieldPath } from '../api/schema.ts';
import type { OperatorConfig } from '../config.ts';
import { str, type Invocation } from './args.ts';
import { UsageError } from './errors.ts';
import { parseSelector } from './selector.ts';
import { configFrom, grantProblems } from './validate.ts';
import { EXIT_OK } from './spec.ts';

export interface NewGrantFlags {
  name?: string;
  namespace?: string;
  user?: string;
  group?: string;
  serviceAccount?: string;
  selector?: string;
  image?: string;
  ttl: string;
  reason?: string;
  approval?: string;
  access: string[];
  profile: string;
  onExpiry: string;
  /** How long the PR may wait for review and merge before the grant can no longer start. */
  mergeWindow: string;
}

function subjectOf(f: NewGrantFlags): Record<string, string> {
  const given = [f.user && 'user', f.group && 'group', f.serviceAccount && 'service-account'].filter(Boolean);
  if (given.length !== 1) throw new UsageError('name exactly one subject: --user, --group or --service-account NAMESPACE/NAME');
  if (f.user) return { kind: 'User', name: f.user };
  if (f.group) return { kind: 'Group', name: f.group };
  const [namespace, name, ...rest] = (f.serviceAccount ?? '').split('/');
  if (!namespace || !name || rest.length > 0) throw new UsageError('--service-account takes NAMESPACE/NAME');
  return { kind: 'ServiceAccount', namespace, name };
}

/** The grant document, or the list of problems (each naming its field). */
export function buildGrant(f: NewGrantFlags, now: DateTime, config?: OperatorConfig): Record<string, unknown> {
  for (const [flag, value] of [
    ['--name', f.name],
    ['--namespace', f.namespace],
    ['--selector', f.selector],
    ['--image', f.image],
    ['--reason', f.reason],
  ] as const) {
    if (!value) throw new UsageError(`${flag} is required`);
  }
  const ttlMs = parseDuration(f.ttl);
  const windowMs = parseDuration(f.mergeWindow);
  if (ttlMs === undefined) throw new UsageError(`--ttl ${f.ttl} is not a duration like 30m or 2h`);
  if (windowMs === undefined) throw new UsageError(`--merge-window ${f.mergeWindow} is not a duration like 24h`);
  const doc = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: f.name, namespace: f.namespace },
    spec: {
      subject: subjectOf(f),
      podSelector: parseSelector(f.selector ?? ''),
      image: f.image,
      ttl: f.ttl,
      // A hard end: if the PR merges late, or GitOps re-applies the file later, the grant
      // still cannot run past this instant.
      notAfter: now
        .plus({ milliseconds: windowMs + ttlMs })
        .toUTC()
        .startOf('second')
        .toISO({ suppressMilliseconds: true }),
      reason: f.reason,
      access: f.access,
      profile: f.profile,
      onExpiry: f.onExpiry,
      ...(f.approval ? { approval: { ref: f.approval } } : {}),
    },
  };
  // The same checks as `validate`: what the API server (and with --config the operator) would refuse.
  const problems = grantProblems(doc, config);
  if (problems.length > 0) throw new UsageError(`the grant would be refused:\n  ${problems.map((p) => `${fieldPath(p.path)}: ${p.message}`).join('\n  ')}`);
  return doc;
}

export const grantYaml = (doc: Record<string, unknown>): string => stringify(doc);

export function runNew(inv: Invocation): number {
  const f = inv.flags;
  if (inv.positionals.length > 0) throw new UsageError(`new takes no arguments, only flags (got "${inv.positionals.join(' ')}")`);
  const doc = buildGrant(
    {
      name: str(f, 'name'),
      namespace: str(f, 'namespace'),
      user: str(f, 'user'),
      group: str(f, 'group'),
      serviceAccount: str(f, 'service-account'),
      selector: str(f, 'selector'),
      image: str(f, 'image'),
      ttl: str(f, 'ttl') ?? '',
      reason: str(f, 'reason'),
      approval: str(f, 'approval'),
      access: (str(f, 'access') ?? '').split(',').map((a) => a.trim()),
      profile: str(f, 'profile') ?? '',
      onExpiry: str(f, 'on-expiry') ?? '',
      mergeWindow: str(f, 'merge-window') ?? '',
    },
    DateTime.now(),
    str(f, 'config') ? configFrom(str(f, 'config') ?? '') : undefined,
  );
  const text = str(f, 'output') === 'json' ? JSON.stringify(doc, null, 2) + '\n' : grantYaml(doc);
  const file = str(f, 'write');
  if (file) {
    writeFileSync(file, text);
    process.stderr.write(`wrote ${file}: commit it and open a pull request\n`);
  } else {
    process.stdout.write(text);
  }
  return EXIT_OK;
}
