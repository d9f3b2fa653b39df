// The access report as Markdown, for a ticket or a post-incident review. Pure.
import type { AccessReport } from './report.ts';

const cell = (v: string | number | undefined): string => (v === undefined || v === '' ? '–' : String(v).replaceAll('|', '\\|').replaceAll('\n', ' '));
const code = (v: string | undefined): string => (v ? `\`${v.replaceAll('`', "'")}\`` : '–');
const secs = (n: number | undefined): string => (n === undefined ? '–' : `${String(n)} s`);

function table(head: string[], rows: (string | number | undefined)[][]): string[] {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

export function reportMarkdown(r: AccessReport): string {
  const out: string[] = [`# Access report: DebugGrant ${r.grant}`, ''];
  out.push(`From: ${r.sources.length > 0 ? r.sources.join(', ') : 'no record'}.`, '');
  out.push('## Who, why, approved by whom', '');
  out.push(
    ...table(
      ['', ''],
      [
        ['Subject', r.subject],
        ['Reason', r.reason],
        ['Approval', r.approval],
        [
          'Created',
          [
            r.created?.at,
            r.created?.by ? `by ${r.created.by}` : undefined,
            r.created?.fieldManager ? `with ${r.created.fieldManager}` : undefined,
            r.created?.gitops ? `(${r.created.gitops})` : undefined,
          ]
            .filter(Boolean)
            .join(' '),
        ],
        ['Access', r.access?.join(', ')],
        ['Image', r.image],
        ['Profile', r.profile],
        ['Pods', r.pods?.join(', ')],
        ['ttl / notAfter', [r.ttl, r.notAfter].filter(Boolean).join(' / ')],
        ['UID', r.uid],
      ],
    ),
    '',
  );
  out.push('## When, and how it ended', '');
  out.push(
    ...table(
      ['', ''],
      [
        ['Phase', r.phase],
        ['Access began', r.activatedAt],
        ['Deadline', r.expiresAt],
        ['Ended', r.end?.at ?? r.endedAt],
        ['How', [r.end?.how, r.end?.by ? `by ${r.end.by}` : undefined].filter(Boolean).join(' ')],
        ['Detail', r.end?.detail],
        ['Verified gone', r.revocationVerified ? `${r.revocationVerified.ok ? 'yes' : 'NO'}: ${r.revocationVerified.message}` : undefined],
      ],
    ),
    '',
  );
  out.push(
    `## Debug containers (${String(r.debugContainers.length)}${r.sessionCount !== undefined ? `; ${String(r.sessionCount)} sessions recorded in all` : ''})`,
    '',
  );
  if (r.debugContainers.length === 0) out.push('None on record.', '');
  else {
    out.push(
      ...table(
        ['Pod/container', 'Added by', 'Command', 'Target', 'Started', 'Finished', 'Duration', 'Exit', 'Ended by deadline'],
        r.debugContainers.map((d) => [
          `${d.pod}/${d.container}`,
          d.addedBy ? `${d.addedBy.user} at ${d.addedBy.at}` : undefined,
          code(d.command),
          d.target,
          d.startedAt,
          d.finishedAt,
          secs(d.durationSeconds),
          d.exitCode,
          d.endedByDeadline === undefined ? undefined : d.endedByDeadline ? 'yes' : 'NO',
        ]),
      ),
      '',
    );
  }
  if (r.otherGrantsSessions) {
    out.push(
      '### Recorded by this grant, admitted under another',
      '',
      "Two grants on one pod and image both record these sessions; the API server's audit log shows another grant let them in.",
      '',
      ...table(
        ['Pod/container', 'Added by', 'Admitted under', 'Started', 'Finished'],
        r.otherGrantsSessions.map((d) => [
          `${d.pod}/${d.container}`,
          d.addedBy ? `${d.addedBy.user} at ${d.addedBy.at}` : undefined,
          d.admittedUnder,
          d.startedAt,
          d.finishedAt,
        ]),
      ),
      '',
    );
  }
  out.push(`## exec, attach, port-forward (${String(r.streams.length)})`, '');
  if (r.streams.length === 0) out.push(r.auditLog ? 'None in the audit log given.' : 'Not known: no audit log given.', '');
  else {
    out.push(
      ...table(
        ['Kind', 'User', 'Pod/container', 'Command / ports', 'Started', 'Ended', 'Duration', 'HTTP', 'Via'],
        r.streams.map((s) => [
          s.kind,
          s.user,
          `${s.pod}${s.container ? `/${s.container}` : ''}`,
          s.command ? code(s.command) : s.ports,
          s.startedAt,
          s.endedAt,
          secs(s.durationSeconds),
          s.code,
          s.via === 'grant' ? 'this grant' : 'OTHER RBAC',
        ]),
      ),
      '',
    );
  }
  if (r.refused.length > 0) {
    out.push(`## Refused or failed (${String(r.refused.length)})`, '');
    out.push(
      ...table(
        ['Kind', 'User', 'Pod', 'At', 'HTTP', 'Why'],
        r.refused.map((x) => [x.kind, x.user, x.pod, x.at, x.code, x.why]),
      ),
      '',
    );
  }
  out.push(`## Lingering debug containers (${String(r.lingering.length)})`, '');
  if (r.lingering.length === 0) out.push('None recorded.', '');
  else
    out.push(
      ...table(
        ['Pod', 'Container', 'Image', 'Evicted'],
        r.lingering.map((l) => [l.pod, l.container, l.image, l.evictedAt]),
      ),
      '',
    );
  out.push('## Standing access found', '');
  if (r.standingAccess.length === 0) out.push('None found.', '');
  else out.push(...r.standingAccess.map((s) => `- ${s}`), '');
  if (r.auditLog) {
    out.push('## Audit log read', '');
    out.push(
      `${r.auditLog.files.join(', ')}: ${String(r.auditLog.events)} requests${r.auditLog.from ? ` from ${r.auditLog.from} to ${r.auditLog.to ?? ''}` : ''}${r.auditLog.skipped > 0 ? `, ${String(r.auditLog.skipped)} lines skipped` : ''}.`,
      '',
    );
  }
  out.push('## What this report could not know', '');
  if (r.unknown.length === 0) out.push('Nothing left out.', '');
  else out.push(...r.unknown.map((u) => `- ${u}`), '');
  return out.join('\n');
}
