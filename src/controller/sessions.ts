// Debug sessions: each ephemeral container the kubelet started, recorded against the grant it
// came in by (or against the pod when no grant covers it). Pure: what was started and ended is
// derived from what the status already records, so a restart or a second reconcile tells
// nothing twice.
import type { CachedPod } from '../kube/cached.ts';
import type { DebugGrantStatus, SessionRecord } from '../api/types.ts';
import type { AuditRecord } from '../log.ts';
import { byCodeUnit } from '../api/order.ts';

/** The grant's status keeps the most recent sessions; sessionCount counts them all. */
export const MAX_SESSIONS = 50;
/** Commands are cut here (a wrapped `kubectl debug` command can be long). */
export const MAX_COMMAND = 512;
/**
 * A session counts as ended by the deadline when the kubelet's finishedAt is at most this long
 * after it: a process killed at the deadline exits within a second, and the kubelet reports
 * finishedAt with whole seconds.
 */
export const DEADLINE_GRACE_MS = 10_000;
/** A container admitted just before the deadline may start (image unpacked, kubelet's sync) a little after it. */
export const START_GRACE_MS = 60_000;

/** What decides whether a session on a pod came in by a grant: the pods, image and time it allowed. */
export interface GrantWindow {
  pods: readonly string[];
  image: string;
  activatedAt: string;
  expiresAt: string;
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * argv[0] of the deadline wrapper config/admission/session-deadline.yaml puts around every
 * granted container's command: `sh -c SCRIPT debuggrant-deadline CMD…`.
 */
export const DEADLINE_WRAPPER_NAME = 'debuggrant-deadline';

/** The command the requester gave: the words after the deadline wrapper, when it is there. */
export function requestedCommand(command: readonly string[] | undefined): readonly string[] | undefined {
  return command?.[0] === 'sh' && command[1] === '-c' && command[3] === DEADLINE_WRAPPER_NAME ? command.slice(4) : command;
}

/** command (without the deadline wrapper) and args as a shell would read them back, cut at MAX_COMMAND. */
export function commandText(command: readonly string[] | undefined, args: readonly string[] | undefined): string | undefined {
  const words = [...(requestedCommand(command) ?? []), ...(args ?? [])];
  if (words.length === 0) return undefined;
  const text = words.map((w) => (SAFE_WORD.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`)).join(' ');
  return text.length > MAX_COMMAND ? `${text.slice(0, MAX_COMMAND - 1)}…` : text;
}

/** Every ephemeral container of the pod the kubelet started, with its times (no profile: that is the grant's). */
export function observedSessions(pod: CachedPod): SessionRecord[] {
  const podName = pod.metadata?.name ?? '';
  const specs = new Map((pod.spec?.ephemeralContainers ?? []).map((c) => [c.name, c]));
  const found: SessionRecord[] = [];
  for (const s of pod.status?.ephemeralContainerStatuses ?? []) {
    const startedAt = s.state?.running?.startedAt ?? s.state?.terminated?.startedAt;
    if (!startedAt) continue; // waiting, or never started: no session (yet)
    const spec = specs.get(s.name);
    const command = commandText(spec?.command, spec?.args);
    const t = s.state?.terminated;
    found.push({
      pod: podName,
      container: s.name,
      image: spec?.image ?? s.image,
      startedAt,
      ...(spec?.targetContainerName ? { target: spec.targetContainerName } : {}),
      ...(command ? { command } : {}),
      ...(t?.finishedAt ? { finishedAt: t.finishedAt } : {}),
      ...(t?.exitCode !== undefined ? { exitCode: t.exitCode } : {}),
    });
  }
  return found;
}

/**
 * Whether a grant can have let any debug container in: config/admission/ephemeral-containers.yaml
 * admits one only under an index entry whose access lists `debug` (its `matching`), so a grant
 * of other kinds (logs, exec…) records no session, and a break-glass container on a pod it
 * covers, with its image, is told as outside any grant.
 */
export const admitsDebugContainers = (access: readonly string[]): boolean => access.includes('debug');

/**
 * Whether a session came in by this grant: on one of its pods, with its image (admission allows
 * no other), started while it was active. The kubelet's times are whole seconds, so activation
 * counts from the start of its second. Two grants active on one pod with one image both claim
 * it; the API server's audit log (the policy's audit annotation) names the one admission used.
 */
export function belongsTo(w: GrantWindow, s: Pick<SessionRecord, 'pod' | 'image' | 'startedAt'>): boolean {
  const start = Date.parse(s.startedAt);
  return (
    w.pods.includes(s.pod) &&
    s.image === w.image &&
    start >= Math.floor(Date.parse(w.activatedAt) / 1000) * 1000 &&
    start <= Date.parse(w.expiresAt) + START_GRACE_MS
  );
}

export function endedByDeadline(finishedAt: string, expiresAt: string): boolean {
  return Date.parse(finishedAt) <= Date.parse(expiresAt) + DEADLINE_GRACE_MS;
}

const sessionKey = (s: SessionRecord): string => `${s.pod}/${s.container}@${s.startedAt}`;
const byStart = (a: SessionRecord, b: SessionRecord): number => byCodeUnit(a.startedAt, b.startedAt) || byCodeUnit(sessionKey(a), sessionKey(b));

export interface SessionUpdate {
  sessions: SessionRecord[];
  sessionCount: number;
  /** Sessions seen for the first time: each gets a session.started line. */
  started: SessionRecord[];
  /** Sessions whose end is seen for the first time: each gets a session.ended line. */
  ended: SessionRecord[];
}

/**
 * The grant's session record after this observation. A record, not a snapshot: sessions stay
 * when their pod goes. When the bound has dropped sessions, one that started at or before the
 * oldest kept one is taken as already told (sessions are never removed from a pod, so it will
 * be seen again).
 */
export function updateSessions(
  previous: Pick<DebugGrantStatus, 'sessions' | 'sessionCount'> | undefined,
  observed: readonly SessionRecord[],
  window: GrantWindow,
  profile: string,
): SessionUpdate {
  const kept = previous?.sessions ?? [];
  const count = Math.max(previous?.sessionCount ?? 0, kept.length);
  const oldestKept = count > kept.length ? kept[0]?.startedAt : undefined;
  const byKey = new Map(kept.map((s) => [sessionKey(s), s]));
  const started: SessionRecord[] = [];
  const ended: SessionRecord[] = [];
  for (const seen of [...observed].filter((s) => belongsTo(window, s)).sort(byStart)) {
    const key = sessionKey(seen);
    const known = byKey.get(key);
    const finished =
      seen.finishedAt && !known?.finishedAt
        ? {
            finishedAt: seen.finishedAt,
            ...(seen.exitCode !== undefined ? { exitCode: seen.exitCode } : {}),
            endedByDeadline: endedByDeadline(seen.finishedAt, window.expiresAt),
          }
        : undefined;
    if (known) {
      if (!finished) continue;
      const record = { ...known, ...finished };
      byKey.set(key, record);
      ended.push(record);
      continue;
    }
    if (oldestKept !== undefined && seen.startedAt <= oldestKept) continue;
    const record: SessionRecord = { ...seen, profile, ...finished };
    byKey.set(key, record);
    started.push(record);
    if (finished) ended.push(record);
  }
  const all = [...byKey.values()].sort(byStart);
  return { sessions: all.slice(-MAX_SESSIONS), sessionCount: count + started.length, started, ended };
}

/** The sessions of a grant that held access (an activation and a deadline on record) and gives debug; undefined for one that never did or does not. */
export function grantSessions(
  d: {
    spec?: { image: string; profile: string; access: readonly string[] } | undefined;
    pods: readonly string[];
    activatedAt?: string | undefined;
    expiresAt?: string | undefined;
  },
  previous: DebugGrantStatus | undefined,
  pods: readonly CachedPod[],
): SessionUpdate | undefined {
  if (!d.spec || !admitsDebugContainers(d.spec.access) || !d.activatedAt || !d.expiresAt) return undefined;
  const window: GrantWindow = { pods: d.pods, image: d.spec.image, activatedAt: d.activatedAt, expiresAt: d.expiresAt };
  const observed = pods.filter((p) => d.pods.includes(p.metadata?.name ?? '')).flatMap(observedSessions);
  return updateSessions(previous, observed, window, d.spec.profile);
}

/** The status fields the record lives in (kept as they were for a grant that never held access). */
export function sessionFields(update: SessionUpdate | undefined, previous: DebugGrantStatus | undefined): Pick<DebugGrantStatus, 'sessions' | 'sessionCount'> {
  if (update) return update.sessionCount > 0 ? { sessions: update.sessions, sessionCount: update.sessionCount } : {};
  return previous?.sessions ? { sessions: previous.sessions, sessionCount: previous.sessionCount ?? previous.sessions.length } : {};
}

/** One audit line per session started and per session ended, at the kubelet's times. */
export function sessionAuditRecords(update: SessionUpdate, grant: string, subject: string, by: string): AuditRecord[] {
  const line = (event: 'session.started' | 'session.ended', s: SessionRecord, at: string, reason: string): AuditRecord => ({
    event,
    grant,
    subject,
    pods: [s.pod],
    by,
    at,
    reason,
    session: s,
  });
  return [
    ...update.started.map((s) => line('session.started', s, s.startedAt, 'Started')),
    ...update.ended.map((s) => line('session.ended', s, s.finishedAt ?? s.startedAt, s.endedByDeadline ? 'EndedInTime' : 'OutlivedDeadline')),
  ];
}

/**
 * The lines still owed after a status write whose answer was lost (it may have landed: then
 * the next look derives nothing new, yet nothing was told) joined with what the next look
 * derives; a session in both (the write did not land) is told once.
 */
export function withOwed(owed: SessionUpdate | undefined, next: SessionUpdate | undefined): SessionUpdate | undefined {
  if (!owed) return next;
  if (!next) return owed;
  const union = (a: readonly SessionRecord[], b: readonly SessionRecord[]): SessionRecord[] => [
    ...new Map([...a, ...b].map((r) => [sessionKey(r), r])).values(),
  ];
  return { ...next, started: union(owed.started, next.started), ended: union(owed.ended, next.ended) };
}
