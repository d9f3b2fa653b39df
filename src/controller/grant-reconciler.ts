// Reconcile one DebugGrant: observe (caches), decide (planGrant), act (src/kube), record
// (status, Events, audit line). Level-triggered: it never trusts the event that woke it,
// and running it twice in a row sends nothing the second time.
import type { V1RoleBinding } from '@kubernetes/client-node';
import { permissionsFor } from '../api/access.ts';
import { activeRecord, endedRecord, type IndexChange } from '../api/grant-index.ts';
import { FINALIZER, rbacName, subjectText } from '../api/names.ts';
import type { DebugGrantSpec } from '../api/schema.ts';
import { isTerminal, type Condition, type DebugGrant, type GrantPhase, type LingeringContainer } from '../api/types.ts';
import type { OperatorConfig } from '../config.ts';
import { ms } from '../config.ts';
import type { DeadlineFastPath } from '../revocation/fast-path.ts';
import { revokeRoleBinding } from '../revocation/revoke-binding.ts';
import { entrySubject, findPredecessor } from '../revocation/records.ts';
import { subjectCan } from '../kube/access-review.ts';
import type { CachedRole, CachedTimer } from '../kube/cached.ts';
import type { KubeApi } from '../kube/client.ts';
import type { EventType } from '../kube/events.ts';
import { addFinalizer, removeFinalizer, writeGrantStatus } from '../kube/grants.ts';
import { evictPod } from '../kube/pods.ts';
import { applyRole, applyRoleBinding, deleteRole } from '../kube/rbac.ts';
import { DeadlinePassedError } from '../kube/request-lanes.ts';
import { audit, type AuditEvent, type Logger } from '../log.ts';
import { coveredPods, hasController, lingeringOn } from './lingering/lingering.ts';
import { sessionsBoundedCondition } from './sessions-bounded.ts';
import { exponentialBackoff } from '../runtime/backoff.ts';
import { SecondDeadline, timerWasArmed, type ArmedTimer } from '../revocation/second-deadline.ts';
import { TIMER_REVOKER } from '../revocation/timer-job.ts';
import type { ConditionInput } from './conditions.ts';
import { apiMessage, describeError, httpStatus } from '../runtime/errors.ts';
import type { KeyedLock } from '../runtime/keyed-lock.ts';
import type { AccessLedger } from './access-ledger.ts';
import type { FreshGrants } from './fresh-grants.ts';
import type { IndexWriter } from './index-writer.ts';
import { findCondition } from './conditions.ts';
import type { Cache, ReconcilerContext } from '../runtime/reconciler-context.ts';
import { objectKey, splitKey } from '../runtime/object-key.ts';
import { planGrant, type GrantDecision } from './plan.ts';
import { bindingMatches, ownedBy, roleMatches, type GrantRef } from './rbac.ts';
import { selectorMatches } from './selector.ts';
import { grantSessions, sessionAuditRecords, sessionFields, withOwed, type SessionUpdate } from './sessions.ts';
import { desiredStatus, failingStatus, sameStatus, type Verification } from './status.ts';

export interface GrantReconcilerDeps extends ReconcilerContext {
  config: OperatorConfig;
  roles: Cache<CachedRole>;
  bindings: Cache<V1RoleBinding>;
  /** The grants with our own latest writes (read-your-writes). */
  fresh: FreshGrants;
  index: IndexWriter;
  ledger: AccessLedger;
  fastPath: DeadlineFastPath;
  /** One grant's RBAC is written by one party at a time (shared with the deadline's fast path). */
  rbacLocks: KeyedLock;
  /** The grants' timer Jobs (the second deadline path, src/revocation/timer-job.ts). */
  timers: Cache<CachedTimer>;
  /** The API in the urgent lane: deleting a RoleBinding whose grant must end. */
  urgentApi: KubeApi;
  /** The API in the normal lane, refusing to start any request at or after `deadline`. */
  apiUntil(deadline: number): KubeApi;
  /** Wake this grant at its deadline (src/revocation/deadline-timer.ts). */
  scheduleDeadline(key: string, at: number | undefined): void;
  requeueAfter(key: string, delayMs: number): void;
}

/** Verification looks again after this, doubling per attempt up to the cap: never a tight loop. */
const VERIFY_RETRY_MS = 100;
const VERIFY_RETRY_CAP_MS = 60_000;
/** RBAC changes reach the authorizer's cache within milliseconds: a few quick looks first. */
const QUICK_LOOKS = 5;
const QUICK_LOOK_MS = 20;

interface RbacOutcome {
  changed: boolean;
  /** What the grant's SecondDeadline condition says now (set when its RBAC was written or checked). */
  secondDeadline?: ConditionInput;
}

export class GrantReconciler {
  private readonly d: GrantReconcilerDeps;
  /** Verification attempts per grant that found access not (yet) as it should be. */
  private readonly verifyAttempts = new Map<string, number>();
  /**
   * Grants whose last status write failed, with the phase their audit trail last told. A write
   * whose answer was lost may still have landed: the next reconcile then sees the new phase
   * in its cache, yet the transition's audit line and Event were never told; they are owed.
   */
  private readonly untoldTransitions = new Map<string, { uid: string; phase: GrantPhase | undefined }>();
  /** The same for session lines: those of a status write that failed, owed until one succeeds. */
  private readonly untoldSessions = new Map<string, SessionUpdate>();
  private readonly timers: SecondDeadline;

  constructor(deps: GrantReconcilerDeps) {
    this.d = deps;
    this.timers = new SecondDeadline({ timers: deps.timers, clock: deps.clock, log: deps.log });
  }

  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const grant = this.d.fresh.get(key);
    if (!grant) {
      this.d.fresh.forget(key);
      this.verifyAttempts.delete(key);
      this.d.ledger.forget(key);
      this.untoldTransitions.delete(key);
      this.untoldSessions.delete(key);
      await this.cleanUpOrphans(namespace, name);
      this.d.scheduleDeadline(key, undefined);
      return;
    }
    let current = grant;
    if (!grant.metadata.deletionTimestamp && !(grant.metadata.finalizers ?? []).includes(FINALIZER)) {
      // Before anything is granted: deleting the grant must always come back to us.
      current = this.d.fresh.wrote(key, grant, await addFinalizer(this.d.api, grant));
    }
    const now = new Date(this.d.clock.now());
    const index = this.d.index.content(namespace);
    const uid = grant.metadata.uid ?? '';
    const objName = rbacName(name);
    const decision = planGrant({
      grant, pods: this.d.pods.list(namespace), now, config: this.d.config,
      ended: endedRecord(index, name), active: activeRecord(index, name, uid),
      predecessor: findPredecessor(index, name, uid, [this.d.roles.get(objName, namespace), this.d.bindings.get(objName, namespace)]),
    });
    const previousPhase = grant.status?.phase;
    const untold = this.untoldTransitions.get(key);
    const toldPhase = untold?.uid === uid ? untold.phase : previousPhase;
    const log = this.d.log.child({ kind: 'DebugGrant', namespace, name, generation: grant.metadata.generation });
    // Armed before anything is written: whichever write fails next, the deadline holds.
    if (decision.deadline) this.d.scheduleDeadline(key, decision.deadline.getTime());

    // The index entry (with the deadline) is written before the RBAC it stands for, so a
    // crash in between never lets a later reconcile compute a fresh, later deadline.
    const indexChange = decision.indexChange;
    if (indexChange && indexChange.kind === 'upsert') {
      await this.d.index.change(namespace, indexChange, now);
      if (!activeRecord(index, name, uid)) this.d.ledger.entryWritten(key);
    }
    let rbac: RbacOutcome;
    try {
      rbac = await this.applyRbac(key, decision, previousPhase, now, current.status?.conditions);
    } catch (err) {
      if (!(err instanceof DeadlinePassedError)) throw err;
      // Decided before the deadline, reached the write after it: decide again (it ends now).
      log.debug({ err: err.message }, 'deadline passed during the reconcile; deciding again');
      this.d.requeueAfter(key, 0);
      return;
    }
    // Ending: the entry goes after the RoleBinding, in the same step.
    if (indexChange && indexChange.kind !== 'upsert') await this.d.index.change(namespace, indexChange, now);

    const verification: Verification = {
      ...await this.verify(decision, current, rbac.changed, now), ...(rbac.secondDeadline ? { secondDeadline: rbac.secondDeadline } : {}),
      ...(decision.spec ? { sessionsBounded: sessionsBoundedCondition(decision.spec.access, this.d.config.execWrapper) } : {}),
    };
    const ended = decision.phase === 'Expired' || decision.phase === 'Revoked';
    const lingering = ended ? this.recordLingering(decision, current) : undefined;
    if (lingering && decision.spec?.onExpiry === 'Evict') await this.evictLingeringPods(decision, lingering.record, log);
    const sessions = withOwed(this.untoldSessions.get(key), grantSessions(decision, current.status, this.d.pods.list(namespace)));
    const status = {
      ...desiredStatus(decision, current.status, verification, lingering?.record, grant.metadata.generation ?? 0, now,
        lingering?.running.filter((r) => !lingering.record.some((l) => l.pod === r.pod && l.container === r.container && l.evictedAt))),
      ...sessionFields(sessions, current.status),
    };
    if (!sameStatus(current.status, status)) {
      try {
        current = this.d.fresh.wrote(key, current, await writeGrantStatus(this.d.api, current, status));
      } catch (err) {
        this.untoldTransitions.set(key, { uid, phase: toldPhase });
        if (sessions && (sessions.started.length > 0 || sessions.ended.length > 0)) this.untoldSessions.set(key, sessions);
        throw err;
      }
    }

    this.recordTransition(decision, grant, toldPhase, verification, log, now);
    // Told once the status records them: a reconcile that runs again derives nothing new.
    if (sessions) for (const line of sessionAuditRecords(sessions, key, decision.spec ? subjectText(decision.spec.subject) : '(invalid)', this.d.identity)) audit(log, line);
    this.untoldSessions.delete(key);
    this.untoldTransitions.delete(key);
    if (isTerminal(decision.phase)) this.d.ledger.forget(key);
    if (!decision.deadline) {
      this.d.scheduleDeadline(key, undefined);
      this.verifyAttempts.delete(key);
    }
    if (grant.metadata.deletionTimestamp) await removeFinalizer(this.d.api, current);
    log.debug({ phase: decision.phase, reason: decision.reason, ms: this.d.clock.now() - now.getTime() }, 'reconciled');
  }

  /**
   * A reconcile the API server refused outright (forbidden, invalid): say so on the grant, as a
   * Failing condition and a Warning Event (best effort: the refusal may cover these writes too).
   * The work queue retries it slowly meanwhile.
   */
  async reportFailure(key: string, err: unknown): Promise<void> {
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

  /** Under the grant's RBAC lock; every write of an active grant planned against its deadline. */
  private async applyRbac(key: string, d: GrantDecision, previousPhase: GrantPhase | undefined, now: Date, conditions: readonly Condition[] | undefined): Promise<RbacOutcome> {
    return this.d.rbacLocks.run(key, async () => {
      const { namespace, name } = d.ref;
      const objName = rbacName(name);
      if (!d.rbac) return { changed: await this.removeRbac(key, d, previousPhase, conditions) };
      const deadline = d.deadline?.getTime() ?? now.getTime();
      // Refused at the moment of sending (also after waiting behind revocations) from the deadline on.
      const api = this.d.apiUntil(deadline);
      // And given up at the deadline: a write stalled on the wire would otherwise hold this
      // lock, and so the deadline's delete, for the whole request timeout.
      const notPast = api.kc.until(deadline, () => this.d.clock.now());
      // The Role first: RBAC's escalation check resolves the Role a new binding refers to,
      // and refuses the binding (to anyone without `bind`) while the Role does not exist.
      let changed = false;
      let timer: ArmedTimer | undefined;
      try {
        // The second deadline before the RoleBinding: the binding's owner is the timer.
        timer = await this.timers.arm(d.ref, d.expiresAt ?? new Date(deadline).toISOString(), conditions, api, notPast);
        if (timer.replacedDeleted) {
          this.event(d.ref, 'Warning', 'TimerDeleted', 'the timer Job was deleted before the deadline (where a garbage collector runs, the RoleBinding it owned went with it: ' +
            `access was interrupted); a new timer and RoleBinding hold until ${d.expiresAt ?? ''}`);
        }
        if (timer.recheckAfterMs !== undefined) this.d.requeueAfter(key, timer.recheckAfterMs);
        if (!roleMatches(this.d.roles.get(objName, namespace), d.rbac.role)) {
          await applyRole(api, d.rbac.role, notPast);
          changed = true;
        }
        const binding = ownedBy(d.rbac.binding, timer.owner);
        if (!bindingMatches(this.d.bindings.get(objName, namespace), binding)) {
          await applyRoleBinding(api, binding, notPast);
          changed = true;
        }
      } catch (err) {
        // A write refused before it was sent, or refused by the API server (4xx), did not land;
        // one that timed out or lost its connection may have.
        const status = httpStatus(err);
        if (!(err instanceof DeadlinePassedError) && !(status !== undefined && status >= 400 && status < 500)) this.d.ledger.sent(key);
        // Failed at or after the deadline (timed out there, most likely): the grant ends now, decide again.
        if (this.d.clock.now() >= deadline && !(err instanceof DeadlinePassedError)) throw new DeadlinePassedError(deadline, { cause: err });
        throw err;
      }
      this.d.ledger.sent(key);
      return { changed, secondDeadline: timer.condition };
    });
  }

  private async removeRbac(key: string, d: GrantDecision, previousPhase: GrantPhase | undefined, conditions: readonly Condition[] | undefined): Promise<boolean> {
    const { namespace } = d.ref;
    const objName = rbacName(d.ref.name);
    // Ending a grant that held access deletes unconditionally (the cache may lag a
    // just-created binding), unless the deadline's fast path just did; in a steady state the
    // cache says whether anything is left to delete. Access existed when the status says so,
    // or, with no status yet, when its index entry was written (RBAC may follow it at once).
    const heldAccess = previousPhase === 'Active' || (!isTerminal(previousPhase) && d.phase !== 'Denied' && d.activatedAt !== undefined);
    const fastPathDone = this.d.fastPath.takeDone(key);
    const bindingThere = (heldAccess && !fastPathDone) || this.d.bindings.get(objName, namespace) !== undefined;
    const roleThere = heldAccess || this.d.roles.get(objName, namespace) !== undefined;
    // The binding goes first, in the urgent lane: once it is gone no access remains, whatever happens next.
    const removedBinding = bindingThere && await revokeRoleBinding(this.d.urgentApi, namespace, objName);
    if (removedBinding) this.d.ledger.sent(key);
    if (removedBinding && d.expiresAt && d.phase === 'Expired') {
      this.d.metrics.revocationLateness.observe(Math.max(0, this.d.clock.now() - Date.parse(d.expiresAt)) / 1000);
    }
    // Gone already at the deadline, its timer armed: Kubernetes' controllers ended it first.
    if (d.phase === 'Expired' && heldAccess && !fastPathDone && !removedBinding && timerWasArmed(conditions, d.pods)) this.d.ledger.timerEnded(key);
    const removedRole = roleThere && await deleteRole(this.d.api, namespace, objName);
    if (isTerminal(d.phase)) await this.timers.disarm(namespace, d.ref.name, this.d.api);
    return removedBinding || removedRole;
  }

  /** Asks the authorizer, not our own bookkeeping, whether the grant holds (or is gone). */
  private async verify(d: GrantDecision, grant: DebugGrant, rbacChanged: boolean, now: Date): Promise<Verification> {
    const spec = d.spec;
    if (!spec) return {};
    const ready = findCondition(grant.status?.conditions, 'Ready');
    if (d.phase === 'Active' && d.pods.length > 0) {
      if (!rbacChanged && ready?.status === 'True' && sameMembers(grant.status?.pods, d.pods)) {
        return { granted: { ok: true, message: ready.message } };
      }
      const missing = await this.quickLooks(() => this.accessFound(spec, d, true));
      if (missing.length > 0) {
        this.lookAgainLater(d);
        return { granted: { ok: false, message: `SubjectAccessReview does not yet allow: ${missing.slice(0, 5).join(', ')}` } };
      }
      this.verifyAttempts.delete(objectKey(d.ref.namespace, d.ref.name));
      if (ready?.status !== 'True' && grant.metadata.creationTimestamp) {
        this.d.metrics.activationLatency.observe(Math.max(0, now.getTime() - new Date(grant.metadata.creationTimestamp).getTime()) / 1000);
      }
      return { granted: { ok: true, message: '' } };
    }
    if ((d.phase === 'Expired' || d.phase === 'Revoked') && d.pods.length > 0) {
      const done = findCondition(grant.status?.conditions, 'RevocationVerified');
      if (done && done.status !== 'Unknown' && !rbacChanged) return { revoked: { ok: done.status === 'True', message: done.message } };
      const remaining = await this.quickLooks(() => this.accessFound(spec, d, false));
      if (remaining.length === 0) {
        return { revoked: { ok: true, message: `SubjectAccessReview denies ${subjectText(spec.subject)} every access this grant gave` } };
      }
      // Access the authorizer still allows after the settle time comes from other bindings.
      const settleUntil = Date.parse(d.endedAt ?? now.toISOString()) + ms(this.d.config.revocationSettle);
      if (this.d.clock.now() >= settleUntil) {
        return { revoked: { ok: false, message: `${subjectText(spec.subject)} still has access through other RBAC bindings: ${remaining.slice(0, 8).join(', ')}` } };
      }
      this.d.requeueAfter(objectKey(d.ref.namespace, d.ref.name), Math.min(settleUntil - this.d.clock.now(), VERIFY_RETRY_MS * 2));
    }
    return {};
  }

  /** RBAC changes reach the authorizer's cache within milliseconds: a few quick looks (≤ 100 ms) while it catches up. */
  private async quickLooks(found: () => Promise<string[]>): Promise<string[]> {
    let result = await found();
    for (let i = 0; i < QUICK_LOOKS && result.length > 0; i++) {
      await new Promise<void>((r) => { this.d.clock.setTimer(r, QUICK_LOOK_MS); });
      result = await found();
    }
    return result;
  }

  /** Access not effective yet: look again later, backing off (a cluster that never allows it is not hammered). */
  private lookAgainLater(d: GrantDecision): void {
    const key = objectKey(d.ref.namespace, d.ref.name);
    const attempt = (this.verifyAttempts.get(key) ?? 0) + 1;
    this.verifyAttempts.set(key, attempt);
    this.d.requeueAfter(key, exponentialBackoff(attempt, { baseMs: VERIFY_RETRY_MS, maxMs: VERIFY_RETRY_CAP_MS }));
  }

  /** Active: the promised accesses the authorizer does NOT allow. Ended: those it STILL allows. */
  private async accessFound(spec: DebugGrantSpec, d: GrantDecision, wantAllowed: boolean): Promise<string[]> {
    const checks = d.pods.flatMap((pod) => permissionsFor(spec.access).flatMap((p) => p.verbs.map((verb) => ({ pod, verb, subresource: p.subresource }))));
    const answers = await Promise.all(checks.map(async (c) => ({
      c, allowed: await subjectCan(this.d.api, spec.subject, { namespace: d.ref.namespace, ...c }),
    })));
    return answers.filter((a) => a.allowed !== wantAllowed)
      .map(({ c }) => `${c.verb} pods${c.subresource ? '/' + c.subresource : ''} ${c.pod}`);
  }

  /**
   * The grant's record of lingering containers, and those running now: those on its pods (by the one definition in
   * controller/lingering/lingering.ts) once it ended. The pod's reconciler flags each one (annotation, Event,
   * audit line); the grant says so once more on its own object, so `kubectl describe dg` shows it.
   */
  private recordLingering(d: GrantDecision, grant: DebugGrant): { record: LingeringContainer[]; running: LingeringContainer[] } {
    const spec = d.spec;
    if (!spec) return { record: [], running: [] };
    const covered = coveredPods(this.d.grants.list(d.ref.namespace));
    const previous = grant.status?.lingering ?? [];
    // A record, not a snapshot: entries stay after the container stops or the pod goes.
    const result: LingeringContainer[] = previous.map((p) => ({ ...p }));
    // And those running now: while any runs, the grant is degraded (Stalled), not a normal end.
    const running: LingeringContainer[] = [];
    for (const pod of this.d.pods.list(d.ref.namespace)) {
      const podName = pod.metadata?.name ?? '';
      if (!(d.pods.includes(podName) || selectorMatches(spec.podSelector, pod.metadata?.labels))) continue;
      for (const r of lingeringOn(pod, covered)) {
        running.push({ pod: podName, container: r.container, image: r.image });
        if (!result.some((p) => p.pod === podName && p.container === r.container)) result.push({ pod: podName, container: r.container, image: r.image });
      }
    }
    const fresh = result.slice(previous.length);
    if (fresh.length > 0) {
      const what = fresh.map((l) => `${l.pod}/${l.container}`).join(', ');
      this.event(d.ref, 'Warning', 'LingeringEphemeralContainer', `ephemeral containers still running after the grant ended: ${what}`);
    }
    return { record: result, running };
  }

  /** onExpiry: Evict: evicts the pods with lingering containers (those with a controller to recreate them). */
  private async evictLingeringPods(d: GrantDecision, lingering: LingeringContainer[], log: Logger): Promise<void> {
    for (const podName of new Set(lingering.filter((l) => !l.evictedAt).map((l) => l.pod))) {
      const pod = this.d.pods.get(podName, d.ref.namespace);
      if (!pod || pod.metadata?.deletionTimestamp) continue;
      if (!hasController(pod)) {
        this.event(d.ref, 'Warning', 'NotEvicted', `pod ${podName} has no controller to recreate it, so it is flagged, not evicted`);
        continue;
      }
      try {
        await evictPod(this.d.api, d.ref.namespace, podName);
      } catch (err) {
        // A PodDisruptionBudget refusing (429) is retried; the containers stay flagged meanwhile.
        log.warn({ pod: podName, err: apiMessage(err) }, 'eviction refused; will retry');
        this.d.requeueAfter(objectKey(d.ref.namespace, d.ref.name), 5_000);
        continue;
      }
      const at = new Date(this.d.clock.now()).toISOString();
      for (const l of lingering) if (l.pod === podName) l.evictedAt = at;
      this.event(d.ref, 'Normal', 'Evicted', `evicted pod ${podName} to end its lingering ephemeral containers (onExpiry: Evict)`);
      this.auditLine(log, 'pod.evicted', d, 'Evicted', new Date(this.d.clock.now()), [podName]);
    }
  }

  private recordTransition(d: GrantDecision, grant: DebugGrant, previousPhase: GrantPhase | undefined, v: Verification, log: Logger, now: Date): void {
    if (d.predecessorEnded) this.recordPredecessorEnd(d, log, now);
    const ended = d.phase === 'Expired' || d.phase === 'Revoked';
    const key = objectKey(d.ref.namespace, d.ref.name);
    const mayHaveHadAccess = this.d.ledger.mayHaveHadAccess(key);
    if (ended && previousPhase !== 'Active' && !isTerminal(grant.status?.phase) && d.activatedAt !== undefined && mayHaveHadAccess) {
      // Its access existed or may have (the index entry precedes any RBAC) but no status ever
      // said so (a crash or a failed status write in between): the record tells it anyway.
      // Not when this process wrote the entry and never sent RBAC: nothing was granted then.
      this.auditLine(log, 'grant.activated', d, 'ActivatedUnrecorded', new Date(d.activatedAt), d.pods);
    }
    const podsChanged = d.phase === 'Active' && previousPhase === 'Active' && !sameMembers(grant.status?.pods, d.pods);
    if (previousPhase === d.phase && !podsChanged) {
      const wasVerified = findCondition(grant.status?.conditions, 'RevocationVerified');
      if (v.revoked && !wasVerified) this.recordRevocationCheck(d, v.revoked, log, now);
      return;
    }
    const event: AuditEvent = podsChanged ? 'grant.pods-changed' : ({
      Pending: 'grant.activated', Active: 'grant.activated', Expired: 'grant.expired', Revoked: 'grant.revoked', Denied: 'grant.denied',
    } as const)[d.phase];
    const type: EventType = d.phase === 'Denied' ? 'Warning' : 'Normal';
    const by = this.endedBy(event, d);
    this.event(d.ref, type, podsChanged ? 'PodsChanged' : d.reason, by === TIMER_REVOKER ? `${d.message}; access was ended by ${by}, before the operator` : d.message);
    if (event === 'grant.expired') this.d.metrics.expiries.inc({ ended_by: by === TIMER_REVOKER ? 'timer_job' : 'operator' });
    this.auditLine(log, event, d, d.reason, now, d.pods);
    if (v.revoked) this.recordRevocationCheck(d, v.revoked, log, now);
  }

  /** A previous grant of this name ended without anyone recording it (finalizer removed by hand). */
  private recordPredecessorEnd(d: GrantDecision, log: Logger, now: Date): void {
    const previous = d.predecessorEnded;
    if (!previous) return;
    const message = `grant ${d.ref.name} uid ${previous.uid} was deleted without its finalizer running; its access is removed and recorded as ${previous.phase}`;
    this.event(d.ref, 'Warning', 'PredecessorEnded', message);
    audit(log, {
      event: previous.phase === 'Expired' ? 'grant.expired' : 'grant.revoked', grant: `${d.ref.namespace}/${d.ref.name}`,
      subject: previous.subject, pods: [], by: this.d.identity, at: now.toISOString(), reason: 'DeletedUnobserved',
    });
  }

  private recordRevocationCheck(d: GrantDecision, r: { ok: boolean; message: string }, log: Logger, now: Date): void {
    if (!r.ok) this.event(d.ref, 'Warning', 'StandingAccess', r.message);
    this.auditLine(log, r.ok ? 'grant.revocation-verified' : 'grant.standing-access', d, r.ok ? 'NoAccessRemains' : 'StandingAccess', now, d.pods);
  }

  private auditLine(log: Logger, event: AuditEvent, d: GrantDecision, reason: string, now: Date, pods: string[]): void {
    audit(log, {
      event, grant: `${d.ref.namespace}/${d.ref.name}`, subject: d.spec ? subjectText(d.spec.subject) : '(invalid)',
      pods, by: this.endedBy(event, d), at: now.toISOString(), reason,
    });
  }

  /** A revocation on request is the requester's act; an expiry Kubernetes' controllers got to first is theirs; everything else the operator's. */
  private endedBy(event: AuditEvent, d: GrantDecision): string {
    if (event === 'grant.revoked' && d.revokedBy) return d.revokedBy;
    if (event === 'grant.expired' && this.d.ledger.wasEndedByTimer(objectKey(d.ref.namespace, d.ref.name))) return TIMER_REVOKER;
    return this.d.identity;
  }

  /** Events are a courtesy (status and audit line are the record): sent without waiting. */
  private event(ref: GrantRef, type: EventType, reason: string, message: string): void {
    void this.sendEvent(ref, type, reason, message);
  }

  private async sendEvent(ref: GrantRef, type: EventType, reason: string, message: string): Promise<void> {
    try {
      await this.d.events.record({ apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrant', namespace: ref.namespace, name: ref.name, uid: ref.uid }, type, reason, message);
    } catch (err) {
      // An Event is a courtesy; the status and audit line are the record.
      this.d.log.warn({ err: apiMessage(err), reason }, 'could not record event');
    }
  }

  /** The grant is gone without our finalizer running (forced removal): take its access away anyway. */
  private async cleanUpOrphans(namespace: string, name: string): Promise<void> {
    const objName = rbacName(name);
    await this.d.rbacLocks.run(objectKey(namespace, name), async () => {
      if (this.d.bindings.get(objName, namespace)) await revokeRoleBinding(this.d.urgentApi, namespace, objName);
      if (this.d.roles.get(objName, namespace)) await deleteRole(this.d.api, namespace, objName);
      await this.timers.disarm(namespace, name, this.d.api);
    });
    const entry = this.d.index.content(namespace).active.find((e) => e.grant === name);
    if (!entry) return;
    // Its end is recorded, so a re-applied copy of the same name is refused.
    const now = new Date(this.d.clock.now());
    const phase: GrantPhase = Date.parse(entry.expiresAt) <= now.getTime() ? 'Expired' : 'Revoked';
    const end: IndexChange = { kind: 'end', grant: name, uid: entry.uid, phase, endedAt: now.toISOString() };
    await this.d.index.change(namespace, end, now);
    audit(this.d.log.child({ kind: 'DebugGrant', namespace, name }), {
      event: phase === 'Expired' ? 'grant.expired' : 'grant.revoked', grant: `${namespace}/${name}`, subject: entrySubject(entry),
      pods: entry.pods, by: this.d.identity, at: now.toISOString(), reason: 'DeletedUnobserved',
    });
  }
}

function sameMembers(a: readonly string[] | undefined, b: readonly string[]): boolean {
  const x = [...(a ?? [])].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
