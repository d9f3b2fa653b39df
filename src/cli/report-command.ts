// `kubectl debuggrant report`: reads the grant, the namespace's DebugGrantIndex and the audit
// log files given, and prints what report.ts builds from them. Only I/O here.
import { readFileSync } from 'node:fs';
import { contentOf } from '../api/grant-index.ts';
import { readIndex } from '../kube/grant-index.ts';
import { getGrant } from '../kube/queries.ts';
import { PLURAL } from '../api/schema.ts';
import { isForbidden, isNotFoundStatus } from '../runtime/errors.ts';
import { str, type Invocation } from './args.ts';
import { parseAuditLog, type AuditEvent } from './audit-log.ts';
import { against, openCluster } from './connection.ts';
import { UsageError } from './errors.ts';
import { buildReport, type ReportInput } from './report.ts';
import { reportMarkdown } from './report-markdown.ts';
import { EXIT_OK } from './spec.ts';

/** --audit-log a.log,b.log, and (a shell glob) files after it: `--audit-log audit*.log`. */
export function auditLogFiles(flag: string | undefined, extra: readonly string[]): string[] {
  if (flag === undefined && extra.length > 0)
    throw new UsageError(`report takes one grant NAME (got ${String(extra.length + 1)} words; audit log files go after --audit-log)`);
  return [...(flag ?? '').split(','), ...extra].filter(Boolean);
}

function readAuditLogs(files: readonly string[]): NonNullable<ReportInput['auditLog']> {
  const events: AuditEvent[] = [];
  let skipped = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read audit log ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const parsed = parseAuditLog(text);
    events.push(...parsed.events);
    skipped += parsed.skipped;
  }
  return { files: [...files], events, skipped };
}

export async function runReport(inv: Invocation): Promise<number> {
  const [name, ...extra] = inv.positionals;
  if (!name) throw new UsageError('report takes one grant NAME');
  const files = auditLogFiles(str(inv.flags, 'audit-log'), extra);
  const auditLog = files.length > 0 ? readAuditLogs(files) : undefined;
  const { api, target } = openCluster(inv.flags);
  const namespace = str(inv.flags, 'namespace') ?? target.namespace;
  const [grant, index] = await against(target, () =>
    Promise.all([
      getGrant(api, namespace, name).catch((err: unknown) => {
        if (isNotFoundStatus(err, PLURAL)) return undefined;
        throw err;
      }),
      // The index is the operator's; a reader without access to it still gets the rest.
      readIndex(api, namespace).then(contentOf, (err: unknown) => {
        if (isForbidden(err)) return undefined;
        throw err;
      }),
    ]),
  );
  const report = buildReport({ namespace, name, grant, index, auditLog, now: new Date() });
  process.stdout.write(str(inv.flags, 'output') === 'json' ? JSON.stringify(report, null, 2) + '\n' : reportMarkdown(report));
  return EXIT_OK;
}
