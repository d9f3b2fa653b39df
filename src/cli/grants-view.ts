// `kubectl debuggrant list` and the grant lookup of `debug`: pure views of grants.
import { formatDuration } from '../api/duration.ts';
import { DebugGrantSpecSchema, type Subject } from '../api/schema.ts';
import type { DebugGrant } from '../api/types.ts';
import type { Identity } from '../kube/queries.ts';

export interface GrantRow {
  namespace: string;
  name: string;
  subject: string;
  phase: string;
  pods: string[];
  timeLeft: string;
  reason: string;
  image: string;
  profile: string;
  access: string[];
  expiresAt: string;
}

export function grantRows(grants: readonly DebugGrant[], now: number): GrantRow[] {
  return grants
    .map((g) => {
      const spec = DebugGrantSpecSchema.safeParse(g.spec);
      const expires = g.status?.expiresAt ? Date.parse(g.status.expiresAt) : undefined;
      const timeLeft =
        expires === undefined
          ? '-'
          : g.status?.phase === 'Active'
            ? expires > now
              ? formatDuration(expires - now)
              : 'overdue'
            : `ended ${formatDuration(now - Date.parse(g.status?.endedAt ?? g.status?.expiresAt ?? ''))} ago`;
      return {
        namespace: g.metadata.namespace ?? '',
        name: g.metadata.name ?? '',
        subject: spec.success ? `${spec.data.subject.kind}/${spec.data.subject.name}` : '?',
        phase: g.status?.phase ?? 'Pending',
        pods: g.status?.phase === 'Active' ? (g.status.pods ?? []) : [],
        timeLeft,
        reason: spec.success ? spec.data.reason : '',
        image: spec.success ? spec.data.image : '',
        profile: spec.success ? spec.data.profile : '',
        access: spec.success ? spec.data.access : [],
        expiresAt: g.status?.expiresAt ?? '',
      };
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

export function formatTable(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return (
    all
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** kubectl's table: NAMESPACE only with -A, more columns with -o wide. */
export function formatGrantRows(rows: GrantRow[], opts: { wide: boolean; namespaces: boolean }): string {
  const cut = (text: string) => (text.length > 48 ? `${text.slice(0, 47)}…` : text);
  const headers = [
    ...(opts.namespaces ? ['NAMESPACE'] : []),
    'NAME',
    'SUBJECT',
    'PHASE',
    'PODS',
    'TIME LEFT',
    'REASON',
    ...(opts.wide ? ['EXPIRES AT', 'PROFILE', 'ACCESS', 'IMAGE'] : []),
  ];
  return formatTable(
    headers,
    rows.map((r) => [
      ...(opts.namespaces ? [r.namespace] : []),
      r.name,
      r.subject,
      r.phase,
      r.pods.join(',') || '-',
      r.timeLeft,
      opts.wide ? r.reason : cut(r.reason),
      ...(opts.wide ? [r.expiresAt || '-', r.profile, r.access.join(','), r.image] : []),
    ]),
  );
}

export function subjectIs(s: Subject, me: Identity): boolean {
  if (s.kind === 'User') return s.name === me.username;
  if (s.kind === 'Group') return me.groups.includes(s.name);
  return me.username === `system:serviceaccount:${s.namespace ?? ''}:${s.name}`;
}

/** The caller's active grants that cover `pod`. */
export function grantsCovering(grants: readonly DebugGrant[], pod: string, me: Identity): { grant: DebugGrant; image: string; profile: string }[] {
  return grants.flatMap((g) => {
    const spec = DebugGrantSpecSchema.safeParse(g.spec);
    if (!spec.success || g.status?.phase !== 'Active' || !(g.status.pods ?? []).includes(pod) || !subjectIs(spec.data.subject, me)) return [];
    return [{ grant: g, image: spec.data.image, profile: spec.data.profile }];
  });
}
