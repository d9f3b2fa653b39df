// Reconcile one DebugGrant: observe (caches), decide (planGrant), act (index entry, RBAC,
// verification, lingering), report (status, Events, audit lines), and return what happens
// next: when to look again, the deadline to arm, the error to retry. Level-triggered: it
// never trusts the event that woke it, and running it twice in a row sends nothing the second time.
import type { V1RoleBinding } from '@kubernetes/client-node';
import { activeRecord, endedRecord, type IndexChange } from '../api/grant-index.ts';
import { rbacName } from '../api/names.ts';
import { hasEnded, isTerminal, type Condition, type DebugGrant, type GrantPhase } from '../api/types.ts';
import type { OperatorConfig } from '../config.ts';
import type { CachedPod, CachedRole } from '../kube/cached.ts';
import type { KubeApi } from '../kube/client.ts';
import { addFinalizer, ownFinalizers, removeFinalizer } from '../kube/grants.ts';
import { DeadlinePassedError } from '../kube/request-lanes.ts';
import type { Logger } from '../log.ts';
import { findPredecessor } from '../revocation/records.ts';
import type { Clock } from '../runtime/clock.ts';
import { both } from '../runtime/both.ts';
import { isPermanent } from '../runtime/errors.ts';
import { splitKey } from '../runtime/object-key.ts';
import type { Cache } from '../runtime/cache.ts';
import type { AccessLedger } from './access-ledger.ts';
import type { FreshGrants } from './fresh-grants.ts';
import { soonest, type GrantResult } from './grant-result.ts';
import type { IndexWriter } from './index-writer.ts';
import type { GrantLingering } from './lingering/grant-lingering.ts';
import { planGrant, type GrantDecision } from './plan.ts';
import type { RbacOutcome, RbacWriter } from './rbac-writer.ts';
import type { GrantReporter } from './reporter.ts';
import { sessionsBoundedCondition } from './sessions-bounded.ts';
import type { AccessVerifier } from './verifier.ts';

export interface GrantReconcilerDeps {
  api: KubeApi;
  config: OperatorConfig;
  clock: Clock;
  log: Logger;
  pods: Cache<CachedPod>;
  roles: Cache<CachedRole>;
  bindings: Cache<V1RoleBinding>;
  /** The grants with our own latest writes (read-your-writes). */
  fresh: FreshGrants;
  index: IndexWriter;
  ledger: AccessLedger;
  rbac: RbacWriter;
  verifier: AccessVerifier;
  lingering: GrantLingering;
  reporter: GrantReporter;
}

/** A reconcile's observation and decision, before it acts (none: the grant is gone). */
export interface GrantStep {
  key: string;
  grant?: DebugGrant;
  decision?: GrantDecision;
}

export class GrantReconciler {
  private readonly d: GrantReconcilerDeps;

  constructor(deps: GrantReconcilerDeps) {
    this.d = deps;
  }

  /** Decides and acts (what GrantController.run does, without arming the deadline in between). */
  async reconcile(key: string): Promise<GrantResult> {
    return this.act(this.decide(key));
  }

  /**
   * Observes and decides, writing nothing: the grant as cached and the decision, with the
   * deadline it holds to, so the caller can arm it before anything is written (a write that
   * hangs must not delay the deadline).
   */
  decide(key: string): GrantStep {
    const grant = this.d.fresh.get(key);
    if (!grant) return { key };
    const { namespace, name } = splitKey(key);
    const index = this.d.index.content(namespace);
    const uid = grant.metadata.uid ?? '';
    const objName = rbacName(name);
    const decision = planGrant({
      grant,
      pods: this.d.pods.list(namespace),
      now: new Date(this.d.clock.now()),
      config: this.d.config,
      ended: endedRecord(index, name),
      active: activeRecord(index, name, uid),
      predecessor: findPredecessor(index, name, uid, [this.d.roles.get(objName, namespace), this.d.bindings.get(objName, namespace)]),
    });
    return { key, grant, decision };
  }

  /** Acts on the decision. Never throws: a failure is the result's `error`, with the deadline still to arm. */
  async act(step: GrantStep): Promise<GrantResult> {
    const { key, grant, decision } = step;
    const deadline = decision?.deadline?.getTime();
    try {
      if (!grant || !decision) return await this.gone(key);
      return { ...(await this.sync(key, grant, decision)), deadline: deadline ?? null };
    } catch (err) {
      // Refused outright (forbidden, invalid): the grant says so; the queue retries slowly.
      if (isPermanent(err)) await this.d.reporter.failed(key, err);
      return { deadline, error: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  private async sync(key: string, grant: DebugGrant, decision: GrantDecision): Promise<GrantResult> {
    const { namespace, name } = splitKey(key);
    const now = new Date(this.d.clock.now());
    const log = this.d.log.child({ kind: 'DebugGrant', namespace, name, generation: grant.metadata.generation });
    // Before anything is granted: the finalizer (deleting the grant must always come back to
    // us; an older operator's finalizer is replaced by ours here, one on a grant being deleted
    // stays until its end) and the index entry with the deadline (so a crash before the RBAC
    // never lets a later reconcile compute a fresh, later deadline). Neither grants anything,
    // and each stands without the other (a grant deleted with an entry but no finalizer has its
    // end recorded by gone()), so both are in flight at once: one round trip, not two.
    const indexChange = decision.indexChange;
    const [finalized] = await both(
      !grant.metadata.deletionTimestamp && ownFinalizers(grant.metadata.finalizers) ? addFinalizer(this.d.api, grant) : Promise.resolve(undefined),
      indexChange?.kind === 'upsert' ? this.upsertEntry(key, grant, indexChange, now) : Promise.resolve(),
    );
    const current = finalized ? this.d.fresh.wrote(key, grant, finalized) : grant;
    const rbac = await this.writeRbac(key, decision, grant.status?.phase, now, current.status?.conditions, log);
    if (rbac === 'decide again') return { requeueAfter: 0 };
    // Ending: the entry goes after the RoleBinding, in the same step.
    if (indexChange && indexChange.kind !== 'upsert') await this.d.index.change(namespace, indexChange, now);

    const verified = await this.d.verifier.verify(decision, current, rbac.changed, now);
    // As the timers' cache says after verification, not when the timer was armed: usually started by then.
    const secondDeadline = await this.d.rbac.secondDeadlineNow(key, decision, rbac, now);
    const verification = {
      ...verified.verification,
      ...(secondDeadline ? { secondDeadline } : {}),
      ...(decision.spec ? { sessionsBounded: sessionsBoundedCondition(decision.spec.access, this.d.config.execWrapper) } : {}),
    };
    const lingering = hasEnded(decision.phase) ? this.d.lingering.find(decision, current) : undefined;
    const evictAgainAfter = lingering && decision.spec?.onExpiry === 'Evict' ? await this.d.lingering.evict(decision, lingering.record, log) : undefined;
    const reported = await this.d.reporter.report(key, { decision, observed: grant, current, verification, lingering, log, now });

    if (isTerminal(decision.phase)) this.d.ledger.forget(key);
    if (!decision.deadline) this.d.verifier.forget(key);
    if (grant.metadata.deletionTimestamp) await removeFinalizer(this.d.api, reported);
    log.debug({ phase: decision.phase, reason: decision.reason, ms: this.d.clock.now() - now.getTime() }, 'reconciled');
    return { requeueAfter: soonest(soonest(soonest(verified.lookAgainAfter, evictAgainAfter), rbac.recheckAfterMs), lingering?.recheckAfter) };
  }

  /** Writes the grant's active entry; the ledger learns when it is a new one (access may follow at once). */
  private async upsertEntry(key: string, grant: DebugGrant, change: IndexChange, now: Date): Promise<void> {
    const { namespace, name } = splitKey(key);
    const hadEntry = activeRecord(this.d.index.content(namespace), name, grant.metadata.uid ?? '') !== undefined;
    await this.d.index.change(namespace, change, now);
    if (!hadEntry) this.d.ledger.entryWritten(key);
  }

  private async writeRbac(
    key: string,
    decision: GrantDecision,
    previousPhase: GrantPhase | undefined,
    now: Date,
    conditions: readonly Condition[] | undefined,
    log: Logger,
  ): Promise<RbacOutcome | 'decide again'> {
    try {
      return await this.d.rbac.write(key, decision, previousPhase, now, conditions);
    } catch (err) {
      if (!(err instanceof DeadlinePassedError)) throw err;
      // Decided before the deadline, reached the write after it: decide again (it ends now).
      log.debug({ err: err.message }, 'deadline passed during the reconcile; deciding again');
      return 'decide again';
    }
  }

  /** The grant is gone without our finalizer running (forced removal): take its access away anyway, and record its end. */
  private async gone(key: string): Promise<GrantResult> {
    const { namespace, name } = splitKey(key);
    this.d.fresh.forget(key);
    this.d.verifier.forget(key);
    this.d.ledger.forget(key);
    this.d.reporter.forget(key);
    await this.d.rbac.removeOrphaned(namespace, name);
    const entry = this.d.index.content(namespace).active.find((e) => e.grant === name);
    if (entry) {
      // Its end is recorded, so a re-applied copy of the same name is refused.
      const now = new Date(this.d.clock.now());
      const phase: GrantPhase = Date.parse(entry.expiresAt) <= now.getTime() ? 'Expired' : 'Revoked';
      const end: IndexChange = { kind: 'end', grant: name, uid: entry.uid, phase, endedAt: now.toISOString() };
      await this.d.index.change(namespace, end, now);
      this.d.reporter.deletedUnobserved(namespace, entry, phase, now);
    }
    return { deadline: null };
  }
}
