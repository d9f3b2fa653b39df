// The one reporter of a grant's transitions (cert-manager's util/reporter.go is the model):
// the status (conditions, lingering, sessions) it writes, the Events it sends and the audit
// lines it logs. A transition is told once, after its status landed, the same way from every path.
import { sameMembers } from '../api/equal.ts';
import type { ActiveGrantEntry } from '../api/grant-index.ts';
import { subjectText } from '../api/names.ts';
import { hasEnded, isTerminal, type DebugGrant, type GrantPhase, type LingeringContainer } from '../api/types.ts';
import type { CachedPod } from '../kube/cached.ts';
import type { EventType } from '../kube/events.ts';
import type { KubeApi } from '../kube/client.ts';
import { writeGrantStatus } from '../kube/grants.ts';
import { audit, type AuditEvent, type Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Cache } from '../runtime/cache.ts';
import { apiMessage, describeError } from '../runtime/errors.ts';
import { objectKey, splitKey } from '../runtime/object-key.ts';
import { TIMER_REVOKER } from '../revocation/timer-job.ts';
import { entrySubject } from '../revocation/records.ts';
import type { AccessLedger } from './access-ledger.ts';
import { findCondition } from './conditions.ts';
import type { EventSender } from './event-sender.ts';
import type { FreshGrants } from './fresh-grants.ts';
import type { GrantDecision } from './plan.ts';
import type { GrantRef } from './rbac.ts';
import { grantSessions, sessionAuditRecords, sessionFields, withOwed, type SessionUpdate } from './sessions.ts';
import { desiredStatus, failingStatus, sameStatus, type Verification } from './status.ts';

export interface ReporterDeps {
  api: KubeApi;
  clock: Clock;
  log: Logger;
  events: EventSender;
  fresh: FreshGrants;
  ledger: AccessLedger;
  /** debuggrant_expiries_total: who ended each expiry. */
  metrics: Metrics;
  /** Where debug sessions are observed (sessions.ts). */
  pods: Cache<CachedPod>;
  /** Who the operator acts as, for audit lines. */
  identity: string;
}

/** What one reconcile found and did, to be reported. */
export interface GrantReport {
  decision: GrantDecision;
  /** The grant as the reconcile found it (what the audit trail last told, unless a write failed). */
  observed: DebugGrant;
  /** The grant as last written by this reconcile (e.g. with its finalizer added). */
  current: DebugGrant;
  verification: Verification;
  /** Ended grants: the record of lingering containers, and those running now. */
  lingering?: { record: LingeringContainer[]; running: LingeringContainer[] };
  log: Logger;
  now: Date;
}

export class GrantReporter {
  private readonly d: ReporterDeps;
  /**
   * Grants whose last status write failed, with the phase their audit trail last told. A write
   * whose answer was lost may still have landed: the next reconcile then sees the new phase
   * in its cache, yet the transition's audit line and Event were never told; they are owed.
   */
  private readonly untold = new Map<string, { uid: string; phase: GrantPhase | undefined }>();
  /** The same for session lines: those of a status write that failed, owed until one succeeds. */
  private readonly untoldSessions = new Map<string, SessionUpdate>();

  constructor(deps: ReporterDeps) {
    this.d = deps;
  }

  /** Writes the status the decision calls for (if it differs), then tells the transition. Returns the grant as written. */
  async report(key: string, r: GrantReport): Promise<DebugGrant> {
    const { decision: d, observed } = r;
    const uid = observed.metadata.uid ?? '';
    const owed = this.untold.get(key);
    const toldPhase = owed?.uid === uid ? owed.phase : observed.status?.phase;
    const running = r.lingering?.running.filter((x) => !r.lingering?.record.some((l) => l.pod === x.pod && l.container === x.container && l.evictedAt));
    const sessions = withOwed(this.untoldSessions.get(key), grantSessions(d, r.current.status, this.d.pods.list(d.ref.namespace)));
    const status = {
      ...desiredStatus(d, r.current.status, r.verification, r.lingering?.record, observed.metadata.generation ?? 0, r.now, running),
      ...sessionFields(sessions, r.current.status),
    };
    let current = r.current;
    if (!sameStatus(current.status, status)) {
      try {
        current = this.d.fresh.wrote(key, current, await writeGrantStatus(this.d.api, current, status));
      } catch (err) {
        this.untold.set(key, { uid, phase: toldPhase });
        if (sessions && (sessions.started.length > 0 || sessions.ended.length > 0)) this.untoldSessions.set(key, sessions);
        throw err;
      }
    }
    this.tell(key, d, observed, toldPhase, r.verification, r.log, r.now);
    // Told once the status records them: a reconcile that runs again derives nothing new.
    if (sessions)
      for (const line of sessionAuditRecords(sessions, key, d.spec ? subjectText(d.spec.subject) : '(invalid)', this.d.identity)) audit(r.log, line);
    this.untoldSessions.delete(key);
    this.untold.delete(key);
    return current;
  }

  /**
   * A reconcile the API server refused outright (forbidden, invalid): say so on the grant, as a
   * Failing condition and a Warning Event (best effort: the refusal may cover these writes too).
   */
  async failed(key: string, err: unknown): Promise<void> {
    const { namespace, name } = splitKey(key);
    const grant = this.d.fresh.get(key);
    if (!grant) return;
    const message = `reconcile refused by the API server, retrying slowly: ${describeError(err)}`;
    this.event({ namespace, name, uid: grant.metadata.uid ?? '' }, 'Warning', 'ReconcileFailed', message);
    const status = failingStatus(grant.status, message, grant.metadata.generation ?? 0, new Date(this.d.clock.now()));
    if (sameStatus(grant.status, status)) return;
    try {
      this.d.fresh.wrote(key, grant, await writeGrantStatus(this.d.api, grant, status));
    } catch (writeErr) {
      this.d.log.warn({ key, err: apiMessage(writeErr) }, 'could not record the failure on the grant');
    }
  }

  /** A grant deleted without our finalizer running: its end, as its index entry names it. */
  deletedUnobserved(namespace: string, entry: ActiveGrantEntry, phase: GrantPhase, now: Date): void {
    audit(this.d.log.child({ kind: 'DebugGrant', namespace, name: entry.grant }), {
      event: phase === 'Expired' ? 'grant.expired' : 'grant.revoked',
      grant: `${namespace}/${entry.grant}`,
      subject: entrySubject(entry),
      pods: entry.pods,
      by: this.d.identity,
      at: now.toISOString(),
      reason: 'DeletedUnobserved',
    });
  }

  /** An Event on the grant, without waiting. */
  event(ref: GrantRef, type: EventType, reason: string, message: string): void {
    void this.d.events.send(
      { apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrant', namespace: ref.namespace, name: ref.name, uid: ref.uid },
      type,
      reason,
      message,
    );
  }

  auditLine(log: Logger, event: AuditEvent, d: GrantDecision, reason: string, now: Date, pods: string[]): void {
    audit(log, {
      event,
      grant: `${d.ref.namespace}/${d.ref.name}`,
      subject: d.spec ? subjectText(d.spec.subject) : '(invalid)',
      pods,
      by: this.endedBy(event, d),
      at: now.toISOString(),
      reason,
    });
  }

  /** A revocation on request is the requester's act; an expiry Kubernetes' controllers got to first is theirs; everything else the operator's. */
  private endedBy(event: AuditEvent, d: GrantDecision): string {
    if (event === 'grant.revoked' && d.revokedBy) return d.revokedBy;
    if (event === 'grant.expired' && this.d.ledger.wasEndedByTimer(objectKey(d.ref.namespace, d.ref.name))) return TIMER_REVOKER;
    return this.d.identity;
  }

  forget(key: string): void {
    this.untold.delete(key);
    this.untoldSessions.delete(key);
  }

  private tell(key: string, d: GrantDecision, grant: DebugGrant, previousPhase: GrantPhase | undefined, v: Verification, log: Logger, now: Date): void {
    if (d.predecessorEnded) this.predecessorEnded(d, log, now);
    if (
      hasEnded(d.phase) &&
      previousPhase !== 'Active' &&
      !isTerminal(grant.status?.phase) &&
      d.activatedAt !== undefined &&
      this.d.ledger.mayHaveHadAccess(key)
    ) {
      // Its access existed or may have (the index entry precedes any RBAC) but no status ever
      // said so (a crash or a failed status write in between): the record tells it anyway.
      // Not when this process wrote the entry and never sent RBAC: nothing was granted then.
      this.auditLine(log, 'grant.activated', d, 'ActivatedUnrecorded', new Date(d.activatedAt), d.pods);
    }
    const podsChanged = d.phase === 'Active' && previousPhase === 'Active' && !sameMembers(grant.status?.pods, d.pods);
    if (previousPhase === d.phase && !podsChanged) {
      const wasVerified = findCondition(grant.status?.conditions, 'RevocationVerified');
      if (v.revoked && !wasVerified) this.revocationChecked(d, v.revoked, log, now);
      return;
    }
    const event: AuditEvent = podsChanged
      ? 'grant.pods-changed'
      : (
          {
            Pending: 'grant.activated',
            Active: 'grant.activated',
            Expired: 'grant.expired',
            Revoked: 'grant.revoked',
            Denied: 'grant.denied',
          } as const
        )[d.phase];
    const type: EventType = d.phase === 'Denied' ? 'Warning' : 'Normal';
    const by = this.endedBy(event, d);
    if (event === 'grant.expired') this.d.metrics.expiries.inc({ ended_by: by === TIMER_REVOKER ? 'timer_job' : 'operator' });
    this.event(
      d.ref,
      type,
      podsChanged ? 'PodsChanged' : d.reason,
      by === TIMER_REVOKER ? `${d.message}; access was ended by ${by}, before the operator` : d.message,
    );
    this.auditLine(log, event, d, d.reason, now, d.pods);
    if (v.revoked) this.revocationChecked(d, v.revoked, log, now);
  }

  /** A previous grant of this name ended without anyone recording it (finalizer removed by hand). */
  private predecessorEnded(d: GrantDecision, log: Logger, now: Date): void {
    const previous = d.predecessorEnded;
    if (!previous) return;
    const message = `grant ${d.ref.name} uid ${previous.uid} was deleted without its finalizer running; its access is removed and recorded as ${previous.phase}`;
    this.event(d.ref, 'Warning', 'PredecessorEnded', message);
    audit(log, {
      event: previous.phase === 'Expired' ? 'grant.expired' : 'grant.revoked',
      grant: `${d.ref.namespace}/${d.ref.name}`,
      subject: previous.subject,
      pods: [],
      by: this.d.identity,
      at: now.toISOString(),
      reason: 'DeletedUnobserved',
    });
  }

  private revocationChecked(d: GrantDecision, r: { ok: boolean; message: string }, log: Logger, now: Date): void {
    if (!r.ok) this.event(d.ref, 'Warning', 'StandingAccess', r.message);
    this.auditLine(log, r.ok ? 'grant.revocation-verified' : 'grant.standing-access', d, r.ok ? 'NoAccessRemains' : 'StandingAccess', now, d.pods);
  }
}
