// Writes and removes a grant's Role, timer Job and RoleBinding: when granting, the Role (RBAC's
// escalation check resolves the Role a new binding refers to) and the timer (the second
// deadline path, src/revocation/second-deadline.ts: the binding's owner) together, then the
// RoleBinding; the RoleBinding first when ending (once it is gone no access remains, whatever
// happens next). One grant's RBAC is written by one party at a time: the deadline's fast path
// takes the same lock.
import type { V1RoleBinding } from '@kubernetes/client-node';
import { rbacName } from '../api/names.ts';
import { isTerminal, type Condition, type GrantPhase } from '../api/types.ts';
import type { CachedRole, CachedTimer } from '../kube/cached.ts';
import type { CallOptions, KubeApi } from '../kube/client.ts';
import { applyRole, applyRoleBinding, deleteRole, refusedForIndexLag } from '../kube/rbac.ts';
import { DeadlinePassedError } from '../kube/request-lanes.ts';
import type { Metrics } from '../metrics.ts';
import type { DeadlineFastPath } from '../revocation/fast-path.ts';
import { revokeRoleBinding } from '../revocation/revoke-binding.ts';
import { SecondDeadline, timerWasArmed, type ArmedTimer } from '../revocation/second-deadline.ts';
import type { Logger } from '../log.ts';
import { exponentialBackoff } from '../runtime/backoff.ts';
import { both } from '../runtime/both.ts';
import { sleep, type Clock } from '../runtime/clock.ts';
import { httpStatus } from '../runtime/errors.ts';
import type { KeyedLock } from '../runtime/keyed-lock.ts';
import { objectKey } from '../runtime/object-key.ts';
import type { Cache } from '../runtime/cache.ts';
import type { AccessLedger } from './access-ledger.ts';
import type { ConditionInput } from './conditions.ts';
import type { GrantDecision } from './plan.ts';
import { bindingMatches, ownedBy, roleMatches } from './rbac.ts';
import type { GrantReporter } from './reporter.ts';

export interface RbacWriterDeps {
  /** The normal lane. */
  api: KubeApi;
  /** The urgent lane: deleting a RoleBinding whose grant must end. */
  urgentApi: KubeApi;
  /** The normal lane, refusing to start any request at or after `deadline`. */
  apiUntil: (deadline: number) => KubeApi;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  roles: Cache<CachedRole>;
  /** The grants' timer Jobs (the second deadline path). */
  timers: Cache<CachedTimer>;
  bindings: Cache<V1RoleBinding>;
  rbacLocks: KeyedLock;
  ledger: AccessLedger;
  fastPath: DeadlineFastPath;
  /** For the Event when a timer Job was deleted before its deadline. */
  reporter: GrantReporter;
}

/** Refusals for index lag asked again (25, 50, 100, 200, 400 ms apart) before they count. */
const INDEX_LAG_RETRIES = 5;

export interface RbacOutcome {
  /** Whether anything was written or deleted (verification then asks the authorizer again). */
  changed: boolean;
  /** The grant's timer as armed (set when its RBAC was written or checked): its SecondDeadline condition then. */
  timer?: ArmedTimer;
  /** Look at the grant again after this long (its timer starting, or refused). */
  recheckAfterMs?: number;
}

export class RbacWriter {
  private readonly d: RbacWriterDeps;
  private readonly timers: SecondDeadline;

  constructor(deps: RbacWriterDeps) {
    this.d = deps;
    this.timers = new SecondDeadline({ timers: deps.timers, clock: deps.clock, log: deps.log });
  }

  /** The RBAC the decision calls for; every write of an active grant planned against its deadline (DeadlinePassedError after it). */
  async write(
    key: string,
    d: GrantDecision,
    previousPhase: GrantPhase | undefined,
    now: Date,
    conditions: readonly Condition[] | undefined,
  ): Promise<RbacOutcome> {
    return this.d.rbacLocks.run(key, async () => {
      if (!d.rbac) return { changed: await this.remove(key, d, previousPhase, conditions) };
      const { namespace, name } = d.ref;
      const objName = rbacName(name);
      const deadline = d.deadline?.getTime() ?? now.getTime();
      // Refused at the moment of sending (also after waiting behind revocations) from the deadline on.
      const api = this.d.apiUntil(deadline);
      // And given up at the deadline: a write stalled on the wire would otherwise hold this
      // lock, and so the deadline's delete, for the whole request timeout.
      const notPast = api.connection.until(deadline, () => this.d.clock.now());
      let outcome: RbacOutcome;
      try {
        // The timer (the second deadline) and the Role, both before the RoleBinding: the
        // binding's owner is the timer, and RBAC's escalation check resolves the Role it refers
        // to. Neither grants anything alone, so they are in flight together: one round trip.
        const roleNeeded = !roleMatches(this.d.roles.get(objName, namespace), d.rbac.role);
        const [timer] = await both(
          this.timers.arm(d.ref, d.expiresAt ?? new Date(deadline).toISOString(), conditions, api, notPast),
          roleNeeded ? applyRole(api, d.rbac.role, notPast) : Promise.resolve(undefined),
        );
        let changed = roleNeeded;
        if (timer.replacedDeleted) {
          this.d.reporter.event(
            d.ref,
            'Warning',
            'TimerDeleted',
            'the timer Job was deleted before the deadline (where a garbage collector runs, the RoleBinding it owned went with it: ' +
              `access was interrupted); a new timer and RoleBinding hold until ${d.expiresAt ?? ''}`,
          );
        }
        const binding = ownedBy(d.rbac.binding, timer.owner);
        if (!bindingMatches(this.d.bindings.get(objName, namespace), binding)) {
          await this.applyBinding(api, binding, notPast);
          changed = true;
        }
        outcome = { changed, timer, recheckAfterMs: timer.recheckAfterMs };
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
      return outcome;
    });
  }

  /** The grant's SecondDeadline condition as the timers' cache says now (SecondDeadline.observed), for its status. */
  async secondDeadlineNow(key: string, d: GrantDecision, outcome: RbacOutcome, now: Date): Promise<ConditionInput | undefined> {
    const armed = outcome.timer;
    const expiresAt = d.expiresAt ?? d.deadline?.toISOString();
    if (!armed || !expiresAt) return armed?.condition;
    // A shortening is a write of the grant's timer: by the same lock and lane as its RBAC, given up at the deadline.
    const deadline = d.deadline?.getTime() ?? now.getTime();
    const api = this.d.apiUntil(deadline);
    return this.d.rbacLocks.run(key, () =>
      this.timers.observed(
        d.ref,
        expiresAt,
        armed,
        api,
        api.connection.until(deadline, () => this.d.clock.now()),
      ),
    );
  }

  /**
   * The admission policy (config/admission/rbac-deadline.yaml) reads the index from the API
   * server's cache, which may trail the entry just written by some milliseconds: such a refusal
   * is asked again shortly; after the last wait it is the API server's answer.
   */
  private async applyBinding(api: KubeApi, binding: V1RoleBinding, options: CallOptions): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await applyRoleBinding(api, binding, options);
        return;
      } catch (err) {
        if (!refusedForIndexLag(err) || attempt > INDEX_LAG_RETRIES) throw err;
        await sleep(this.d.clock, exponentialBackoff(attempt, { baseMs: 25, maxMs: 400 }));
      }
    }
  }

  /** The grant is gone without our finalizer running (forced removal): its RBAC goes anyway. */
  async removeOrphaned(namespace: string, name: string): Promise<void> {
    const objName = rbacName(name);
    await this.d.rbacLocks.run(objectKey(namespace, name), async () => {
      if (this.d.bindings.get(objName, namespace)) await revokeRoleBinding(this.d.urgentApi, this.d.clock, namespace, objName);
      if (this.d.roles.get(objName, namespace)) await deleteRole(this.d.api, namespace, objName);
      await this.timers.disarm(namespace, name, this.d.api);
    });
  }

  private async remove(key: string, d: GrantDecision, previousPhase: GrantPhase | undefined, conditions: readonly Condition[] | undefined): Promise<boolean> {
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
    const removedBinding = bindingThere && (await revokeRoleBinding(this.d.urgentApi, this.d.clock, namespace, objName));
    if (removedBinding) this.d.ledger.sent(key);
    if (removedBinding && d.expiresAt && d.phase === 'Expired') {
      this.d.metrics.revocationLateness.observe(Math.max(0, this.d.clock.now() - Date.parse(d.expiresAt)) / 1000);
    }
    // Gone already at the deadline, its timer armed: Kubernetes' controllers ended it first.
    if (d.phase === 'Expired' && heldAccess && !fastPathDone && !removedBinding && timerWasArmed(conditions, d.pods)) this.d.ledger.timerEnded(key);
    const removedRole = roleThere && (await deleteRole(this.d.api, namespace, objName));
    if (isTerminal(d.phase)) await this.timers.disarm(namespace, d.ref.name, this.d.api);
    return removedBinding || removedRole;
  }
}
