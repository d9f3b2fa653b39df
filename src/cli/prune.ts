// `kubectl debuggrant prune PATH…`: which grant files of a checkout hold only grants that have
// ended, so a repository of grants keeps only what is live; --delete removes those files.
// Ended is the cluster's word (status.phase Expired, Revoked or Denied), or offline, a passed
// spec.notAfter (no activation outlives it). Anything else stays: a file is removed only when
// every document in it is a grant known to have ended. Deleting the file of an Active grant
// would revoke it at the next sync; this command never does.
import { unlinkSync } from 'node:fs';
import { TERMINAL_PHASES, type GrantPhase } from '../api/types.ts';
import { bool, str, type Invocation } from './args.ts';
import { UsageError } from './errors.ts';
import { grantsInFiles, type FileContents, type GrantInFile } from './grant-files.ts';
import { EXIT_OK } from './spec.ts';

export type State = 'ended' | 'live' | 'unknown';
export interface Liveness {
  state: State;
  why: string;
}

/** What the cluster holds of a grant: its phase and end, or nothing by that name. */
export type Observed = { phase: GrantPhase | undefined; endedAt: string | undefined; expiresAt: string | undefined } | 'absent';

export const grantKey = (g: Pick<GrantInFile, 'namespace' | 'name'>): string => `${g.namespace}/${g.name}`;

/** From the file alone: a passed notAfter ends any grant; otherwise only the cluster knows. */
export function offlineLiveness(g: GrantInFile, now: number): Liveness {
  if (g.notAfter === undefined) return { state: 'unknown', why: 'no spec.notAfter: only the cluster knows whether it ended' };
  const at = Date.parse(g.notAfter);
  if (Number.isNaN(at)) return { state: 'unknown', why: `spec.notAfter ${g.notAfter} is not a time` };
  return at <= now
    ? { state: 'ended', why: `spec.notAfter ${g.notAfter} has passed: it cannot be active` }
    : { state: 'unknown', why: `spec.notAfter ${g.notAfter} is ahead: it may be active (ask the cluster)` };
}

/** From the cluster's status, else (not there) from the file. */
export function clusterLiveness(g: GrantInFile, observed: Observed, now: number): Liveness {
  if (observed === 'absent') {
    const offline = offlineLiveness(g, now);
    return offline.state === 'ended'
      ? { state: 'ended', why: `not in the cluster, and ${offline.why}` }
      : { state: 'unknown', why: 'not in the cluster: not synced yet, or deleted there' };
  }
  const { phase } = observed;
  if (phase !== undefined && TERMINAL_PHASES.includes(phase)) {
    return { state: 'ended', why: `${phase}${observed.endedAt ? ` at ${observed.endedAt}` : ''}` };
  }
  if (phase === 'Active') return { state: 'live', why: `Active${observed.expiresAt ? ` until ${observed.expiresAt}` : ''}` };
  return { state: 'live', why: 'not reconciled yet (Pending)' };
}

export interface FileVerdict {
  file: string;
  /** Every document is a grant that ended. */
  removable: boolean;
  /** Why the file stays, when something other than its grants keeps it. */
  note?: string;
  grants: (GrantInFile & Liveness & { grant: string })[];
}

export function planPrune(files: readonly FileContents[], liveness: (g: GrantInFile) => Liveness): FileVerdict[] {
  return files.map((f) => {
    const grants = f.grants.map((g) => ({ ...g, grant: grantKey(g), ...liveness(g) }));
    const note =
      f.unreadable ?? (f.grants.length === 0 ? 'no DebugGrant' : f.others > 0 ? `holds ${String(f.others)} other object(s): edit it by hand` : undefined);
    return { file: f.file, removable: note === undefined && grants.every((g) => g.state === 'ended'), ...(note ? { note } : {}), grants };
  });
}

export function formatPrune(verdicts: readonly FileVerdict[], deleted: boolean): string {
  const rows = verdicts.flatMap((v) =>
    v.grants.length > 0 ? v.grants.map((g) => [v.file, g.grant, g.state, v.note ? `${g.why}; the file ${v.note}` : g.why]) : [[v.file, '-', '-', v.note ?? '']],
  );
  const header = ['FILE', 'GRANT', 'STATE', 'WHY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const removable = verdicts.filter((v) => v.removable);
  const summary =
    removable.length === 0
      ? `no file holds only ended grants (${String(verdicts.length)} file(s) read)`
      : deleted
        ? `removed ${String(removable.length)} of ${String(verdicts.length)} file(s) holding only ended grants: commit the removal (git add -A)`
        : `${String(removable.length)} of ${String(verdicts.length)} file(s) hold only ended grants: --delete removes them`;
  return [line(header), ...rows.map(line), ...removable.map((v) => `${deleted ? 'removed' : 'removable'}: ${v.file}`), summary].join('\n') + '\n';
}

export async function runPrune(inv: Invocation): Promise<number> {
  if (inv.positionals.length === 0) throw new UsageError('prune needs at least one FILE or DIR of the checkout');
  const offline = bool(inv.flags, 'offline');
  if (offline && bool(inv.flags, 'from-cluster')) throw new UsageError('--offline and --from-cluster exclude each other');
  const files = grantsInFiles(inv.positionals);
  if (files.every((f) => f.grants.length === 0 && !f.unreadable)) throw new UsageError(`no DebugGrant in ${inv.positionals.join(', ')}: nothing to prune`);
  const now = Date.now();
  let liveness: (g: GrantInFile) => Liveness;
  if (offline) {
    liveness = (g) => offlineLiveness(g, now);
  } else {
    // Only this mode talks to the cluster, so only it loads the Kubernetes client.
    const { observeGrants } = await import('./prune-cluster.ts');
    const observed = await observeGrants(
      inv.flags,
      files.flatMap((f) => f.grants),
    );
    liveness = (g) => clusterLiveness(g, observed.get(grantKey(g)) ?? 'absent', now);
  }
  const verdicts = planPrune(files, liveness);
  const del = bool(inv.flags, 'delete');
  if (del) for (const v of verdicts) if (v.removable) unlinkSync(v.file);
  process.stdout.write(str(inv.flags, 'output') === 'json' ? JSON.stringify({ deleted: del, files: verdicts }, null, 2) + '\n' : formatPrune(verdicts, del));
  return EXIT_OK;
}
