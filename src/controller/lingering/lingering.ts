// Ephemeral containers cannot be removed from a pod. What the operator can do is notice
// the ones still running where no active grant covers the pod, and say so loudly.
import type { CachedPod } from '../../kube/cached.ts';
import type { DebugGrant } from '../../api/types.ts';
import { DEADLINE_WRAPPER_NAME } from '../sessions.ts';
import { byCodeUnit } from '../../api/order.ts';

/**
 * How long after the deadline its wrapper carries a debug container may still show as running
 * before it counts as overdue: the kill is at the deadline's whole second (rounded down), then
 * the kubelet notices the exit and reports it (measured on the real node: under 2 s).
 */
export const OVERDUE_GRACE_MS = 2_000;

export interface RunningEphemeral {
  container: string;
  image: string;
}

/** Ephemeral containers the kubelet reports as running (status, not spec: a spec entry may never start). */
export function runningEphemeralContainers(pod: CachedPod): RunningEphemeral[] {
  const images = new Map((pod.spec?.ephemeralContainers ?? []).map((c) => [c.name, c.image ?? '']));
  return (pod.status?.ephemeralContainerStatuses ?? [])
    .filter((s) => s.state?.running !== undefined)
    .map((s) => ({ container: s.name, image: images.get(s.name) ?? s.image }))
    .sort((a, b) => byCodeUnit(a.container, b.container));
}

/** The annotation value naming lingering containers, or null when there are none. */
export function lingeringAnnotation(lingering: readonly RunningEphemeral[]): string | null {
  return lingering.length === 0 ? null : lingering.map((l) => `${l.container}=${l.image}`).join(',');
}

export function hasController(pod: CachedPod): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((o) => o.controller === true);
}

/** Pods an Active grant covers right now: ephemeral containers there are sanctioned. */
export function coveredPods(grants: readonly DebugGrant[]): Set<string> {
  return new Set(grants.filter((g) => g.status?.phase === 'Active').flatMap((g) => g.status?.pods ?? []));
}

/**
 * The one definition of lingering: ephemeral containers running on a pod no Active grant
 * covers, except those whose deadline wrapper is still within OVERDUE_GRACE_MS of its deadline
 * (they are ending by themselves; the kubelet reports the exit a moment later: look again at
 * overdueSessions().recheckAt). The pod's reconciler flags them (annotation, Event, one audit
 * line per container); an ended grant's status records those on its pods.
 */
export function lingeringOn(pod: CachedPod, covered: ReadonlySet<string>, nowMs: number): RunningEphemeral[] {
  if (covered.has(pod.metadata?.name ?? '')) return [];
  const deadlines = new Map((pod.spec?.ephemeralContainers ?? []).map((c) => [c.name, wrapperDeadlineMs(c.command)]));
  return runningEphemeralContainers(pod).filter((r) => {
    const deadline = deadlines.get(r.container);
    return deadline === undefined || nowMs >= deadline + OVERDUE_GRACE_MS;
  });
}

/** Containers named in a lingering annotation value (what was flagged before). */
export function flaggedContainers(annotation: string | null | undefined): Set<string> {
  return new Set(
    (annotation ?? '')
      .split(',')
      .filter(Boolean)
      .map((pair) => pair.split('=')[0] ?? ''),
  );
}

/**
 * The deadline (ms) a container's command carries when the admission policies wrapped it
 * (`sh -c '…; t=$((D - $(date +%s))); …' debuggrant-deadline CMD…`, config/admission/session-deadline.yaml).
 */
export function wrapperDeadlineMs(command: readonly string[] | undefined): number | undefined {
  if (command?.[0] !== 'sh' || command[1] !== '-c' || command[3] !== DEADLINE_WRAPPER_NAME) return undefined;
  const m = /t=\$\(\((\d+) - /.exec(command[2] ?? '');
  return m?.[1] === undefined ? undefined : Number(m[1]) * 1000;
}

export interface OverdueSession extends RunningEphemeral {
  /** The deadline its wrapper carries (ms). */
  deadline: number;
}

/**
 * Debug containers still running more than OVERDUE_GRACE_MS after the deadline their wrapper
 * carries (the wrapper should have ended them: something broke), and when to look again for
 * those not overdue yet.
 */
export function overdueSessions(pod: CachedPod, nowMs: number): { overdue: OverdueSession[]; recheckAt: number | undefined } {
  const deadlines = new Map((pod.spec?.ephemeralContainers ?? []).map((c) => [c.name, wrapperDeadlineMs(c.command)]));
  const overdue: OverdueSession[] = [];
  let recheckAt: number | undefined;
  for (const r of runningEphemeralContainers(pod)) {
    const deadline = deadlines.get(r.container);
    if (deadline === undefined) continue;
    const due = deadline + OVERDUE_GRACE_MS;
    if (nowMs >= due) overdue.push({ ...r, deadline });
    else recheckAt = Math.min(recheckAt ?? due, due);
  }
  return { overdue, recheckAt };
}
