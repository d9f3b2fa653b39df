// Debug sessions outside any grant: ephemeral containers the kubelet started on a pod that no
// grant's window claims (break-glass, standing RBAC, admission exempted) are recorded against
// the pod, as the grant's sessions are against the grant: a Warning Event and a session.started
// / session.ended audit line each. The pod annotation debuggrant.dev/sessions records how each
// container was classified and what was told, so a restart or a second look tells nothing twice,
// and a container classified while its grant existed is never re-classified after the grant goes.
import { SESSIONS_ANNOTATION } from '../api/names.ts';
import { DebugGrantSpecSchema } from '../api/schema.ts';
import type { DebugGrant, SessionRecord } from '../api/types.ts';
import type { CachedPod } from '../kube/cached.ts';
import { setPodAnnotation } from '../kube/pods.ts';
import { audit, type AuditRecord } from '../log.ts';
import { splitKey } from '../runtime/object-key.ts';
import type { PodReconcilerDeps } from './pod-context.ts';
import { admitsDebugContainers, belongsTo, observedSessions, type GrantWindow } from './sessions.ts';
import { byCodeUnit } from '../api/order.ts';

/** A container's class: the grant it came in by, or outside any grant with what was told. */
type Classified = { grant: string } | { told: 'started' | 'ended' };

/** `dbg=grant:inc-7,sneaky=started,old=ended`, as written in the annotation. */
export function parseSessionsAnnotation(value: string | undefined): Map<string, Classified> {
  const out = new Map<string, Classified>();
  for (const pair of (value ?? '').split(',').filter(Boolean)) {
    const [container = '', what = ''] = pair.split('=');
    if (what.startsWith('grant:')) out.set(container, { grant: what.slice('grant:'.length) });
    else if (what === 'started' || what === 'ended') out.set(container, { told: what });
  }
  return out;
}

/**
 * Two records of one pod (the cache's and our own latest write, which the watch may not have
 * delivered yet) merged: for each container the furthest told. Recording only moves forward,
 * so the merge of an older and a newer copy is the newer one.
 */
export function mergeSessionsAnnotations(a: string | undefined, b: string | undefined): string | undefined {
  const merged = parseSessionsAnnotation(a);
  for (const [container, k] of parseSessionsAnnotation(b)) {
    const seen = merged.get(container);
    if (!seen || ('told' in seen && 'told' in k && k.told === 'ended')) merged.set(container, k);
  }
  return sessionsAnnotation(merged) ?? undefined;
}

export function sessionsAnnotation(classes: ReadonlyMap<string, Classified>): string | null {
  if (classes.size === 0) return null;
  return [...classes]
    .sort(([a], [b]) => byCodeUnit(a, b))
    .map(([c, k]) => `${c}=${'grant' in k ? `grant:${k.grant}` : k.told}`)
    .join(',');
}

/** The windows of the namespace's grants that held access and give debug (the same test the grant's own record uses). */
export function grantWindows(grants: readonly DebugGrant[]): (GrantWindow & { grant: string })[] {
  return grants.flatMap((g) => {
    const spec = DebugGrantSpecSchema.safeParse(g.spec);
    const s = g.status;
    if (!spec.success || !admitsDebugContainers(spec.data.access) || !s?.activatedAt || !s.expiresAt) return [];
    return [{ grant: g.metadata.name ?? '', pods: s.pods ?? [], image: spec.data.image, activatedAt: s.activatedAt, expiresAt: s.expiresAt }];
  });
}

export interface PodSessionUpdate {
  annotation: string | null;
  started: SessionRecord[];
  ended: SessionRecord[];
}

/** What to tell and record for one pod: sessions seen for the first time, classified once; ends of those outside any grant. */
export function podSessionUpdate(pod: CachedPod, windows: readonly (GrantWindow & { grant: string })[], annotation: string | undefined): PodSessionUpdate {
  const classes = parseSessionsAnnotation(annotation);
  const started: SessionRecord[] = [];
  const ended: SessionRecord[] = [];
  for (const s of observedSessions(pod)) {
    let known = classes.get(s.container);
    if (!known) {
      const grant = windows.find((w) => belongsTo(w, s))?.grant;
      known = grant ? { grant } : { told: 'started' };
      classes.set(s.container, known);
      if (!grant) started.push(s);
    }
    if ('told' in known && known.told === 'started' && s.finishedAt) {
      classes.set(s.container, { told: 'ended' });
      ended.push(s);
    }
  }
  return { annotation: sessionsAnnotation(classes), started, ended };
}

export function podSessionAuditRecords(u: PodSessionUpdate, pod: string, by: string): AuditRecord[] {
  const line = (event: 'session.started' | 'session.ended', s: SessionRecord, at: string, reason: string): AuditRecord => ({
    event,
    grant: '',
    subject: '',
    pods: [pod],
    by,
    at,
    reason,
    session: s,
  });
  return [
    ...u.started.map((s) => line('session.started', s, s.startedAt, 'OutsideAnyGrant')),
    ...u.ended.map((s) => line('session.ended', s, s.finishedAt ?? s.startedAt, 'OutsideAnyGrant')),
  ];
}

export class PodSessionReconciler {
  private readonly d: PodReconcilerDeps;
  /** Our latest write per pod, until the watch delivers it: a look in between must not tell again. */
  private readonly written = new Map<string, string>();

  constructor(deps: PodReconcilerDeps) {
    this.d = deps;
  }

  /** `pod`: as Caches.podNow() has it (a finished one too: the ends of its sessions are told); undefined when it is gone. */
  async reconcile(key: string, pod: CachedPod | undefined): Promise<void> {
    const { namespace, name } = splitKey(key);
    if (!pod) {
      this.written.delete(key);
      return;
    }
    const cached = pod.metadata?.annotations?.[SESSIONS_ANNOTATION];
    if (cached !== undefined && cached === this.written.get(key)) this.written.delete(key);
    const have = mergeSessionsAnnotations(cached, this.written.get(key));
    const u = podSessionUpdate(pod, grantWindows(this.d.grants.list(namespace)), have);
    if (u.annotation === (have ?? null)) return;
    // Recorded first: told once it is on record (a failed write tells nothing and is retried).
    await setPodAnnotation(this.d.api, namespace, name, SESSIONS_ANNOTATION, u.annotation);
    if (u.annotation !== null) this.written.set(key, u.annotation);
    const log = this.d.log.child({ kind: 'Pod', namespace, name });
    for (const line of podSessionAuditRecords(u, name, this.d.identity)) audit(log, line);
    if (u.started.length === 0) return;
    const what = u.started.map((s) => `${s.container} (${s.image}${s.command ? `: ${s.command}` : ''})`).join(', ');
    await this.d.events.send(
      { apiVersion: 'v1', kind: 'Pod', namespace, name, uid: pod.metadata?.uid },
      'Warning',
      'SessionOutsideGrant',
      `debug containers started that no DebugGrant let in: ${what}`,
    );
  }
}
