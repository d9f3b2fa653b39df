// The second deadline path at work: the reconcile arms a grant's timer Job before writing its
// RoleBinding (planned in timer-job.ts) and disarms it when the grant ends. A timer the API
// server refuses (a ResourceQuota on jobs, a policy engine, a namespace being deleted) never
// holds up the grant: its RoleBinding is then owned by the grant, the SecondDeadline condition
// says why, and the operator's own deadline path still ends it.
import type { V1OwnerReference } from '@kubernetes/client-node';
import { GRANT_LABEL, TIMER_LABEL } from '../api/names.ts';
import type { Condition } from '../api/types.ts';
import type { ConditionInput } from '../controller/conditions.ts';
import type { GrantRef } from '../controller/rbac.ts';
import type { CachedTimer } from '../kube/cached.ts';
import type { CallOptions, KubeApi } from '../kube/client.ts';
import { DeadlinePassedError } from '../kube/request-lanes.ts';
import { createTimer, deleteTimer, shortenTimer } from '../kube/timers.ts';
import type { Logger } from '../log.ts';
import type { Clock } from '../runtime/clock.ts';
import { apiMessage } from '../runtime/errors.ts';
import type { Cache } from '../runtime/cache.ts';
import {
  bindingOwner,
  desiredTimer,
  recheckStartingAfter,
  SECOND_DEADLINE,
  secondDeadlineCondition,
  shortenedDeadline,
  timerName,
  timerState,
} from './timer-job.ts';

/** A timer the API server refused is asked for again this long after (a quota may be raised). */
export const TIMER_RETRY_MS = 60_000;

export interface ArmedTimer {
  /** The RoleBinding's one owner: the timer, or the grant when there is no timer to own it. */
  owner: V1OwnerReference;
  condition: ConditionInput;
  /** Look at the grant again after this long (a timer starting, or refused). */
  recheckAfterMs?: number;
  /** The timer was there before (the grant said so) and is gone: someone deleted it before the deadline. */
  replacedDeleted?: boolean;
}

export interface SecondDeadlineDeps {
  timers: Cache<CachedTimer>;
  clock: Clock;
  log: Logger;
}

export class SecondDeadline {
  private readonly d: SecondDeadlineDeps;

  constructor(deps: SecondDeadlineDeps) {
    this.d = deps;
  }

  /**
   * Makes sure the grant's timer exists and fires at the first whole second at or after
   * `expiresAt`; `api` and `options` are the grant's RBAC writes' (given up at the deadline).
   * Throws only when the deadline passed meanwhile; any refusal is reported, not thrown.
   */
  async arm(ref: GrantRef, expiresAt: string, previous: readonly Condition[] | undefined, api: KubeApi, options: CallOptions): Promise<ArmedTimer> {
    let timer = this.d.timers.get(timerName(ref.name), ref.namespace);
    let state = timerState(timer, ref);
    const wasArmed = ['TimerArmed', 'TimerStarting', 'NoJobController'].includes(previous?.find((c) => c.type === SECOND_DEADLINE)?.reason ?? '');
    let created = false;
    try {
      if (state === 'missing') {
        ({ timer, created } = await createTimer(api, desiredTimer(ref, expiresAt, this.d.clock.now()), options));
        state = timerState(timer, ref);
      } else if (timer && state === 'armed') {
        const shorter = shortenedDeadline(timer, Date.parse(expiresAt));
        if (shorter !== undefined) timer = await shortenTimer(api, timer, shorter, options);
      }
    } catch (err) {
      if (err instanceof DeadlinePassedError || this.d.clock.now() >= Date.parse(expiresAt))
        throw err instanceof DeadlinePassedError ? err : new DeadlinePassedError(Date.parse(expiresAt), { cause: err });
      const refusal = apiMessage(err);
      this.d.log.warn({ grant: `${ref.namespace}/${ref.name}`, err: refusal }, 'timer Job refused; the operator alone ends this grant');
      return {
        owner: bindingOwner(ref, undefined, 'missing'),
        condition: secondDeadlineCondition(undefined, 'missing', this.d.clock.now(), refusal),
        recheckAfterMs: TIMER_RETRY_MS,
      };
    }
    const now = this.d.clock.now();
    // (An ending timer's grant is looked at again when the timer's watch reports it gone.)
    const recheck = state === 'starting' && timer ? recheckStartingAfter(timer, now) : undefined;
    return {
      owner: bindingOwner(ref, timer, state),
      condition: secondDeadlineCondition(timer, state, now),
      ...(recheck !== undefined ? { recheckAfterMs: recheck } : {}),
      ...(wasArmed && created ? { replacedDeleted: true } : {}),
    };
  }

  /**
   * What `armed` says by the timers' cache now, when the grant's status is about to be written:
   * a timer still starting when it was armed has usually been started by the Job controller
   * since (the RoleBinding's write and the verification take ~0.2 s), and saying so in the
   * grant's first status saves writing a second one. One started in a later second than it was
   * created is shortened first (as the next reconcile would do anyway); should that fail, it is
   * still reported starting and the next reconcile tries again. `api` and `options` are the
   * grant's RBAC writes'.
   */
  async observed(ref: GrantRef, expiresAt: string, armed: ArmedTimer, api: KubeApi, options: CallOptions): Promise<ConditionInput> {
    if (armed.condition.reason !== 'TimerStarting') return armed.condition;
    let timer = this.d.timers.get(timerName(ref.name), ref.namespace);
    if (!timer || (timer.metadata.uid ?? '') !== armed.owner.uid || timerState(timer, ref) !== 'armed') return armed.condition;
    const shorter = shortenedDeadline(timer, Date.parse(expiresAt));
    if (shorter !== undefined) {
      try {
        timer = await shortenTimer(api, timer, shorter, options);
      } catch (err) {
        this.d.log.debug({ grant: `${ref.namespace}/${ref.name}`, err: apiMessage(err) }, 'timer not shortened yet; the next reconcile tries again');
        return armed.condition;
      }
    }
    return secondDeadlineCondition(timer, 'armed', this.d.clock.now());
  }

  /**
   * The grant ended (or went): its timer goes too, unless already gone. Any timer of that
   * grant name: only the operator can write timer-labelled Jobs (config/admission/timers.yaml).
   */
  async disarm(namespace: string, grant: string, api: KubeApi): Promise<boolean> {
    const timer = this.d.timers.get(timerName(grant), namespace);
    if (timer?.metadata.labels?.[TIMER_LABEL] !== 'true' || timer.metadata.labels[GRANT_LABEL] !== grant) return false;
    return deleteTimer(api, timer);
  }
}

/**
 * Whether the grant's timer held its RoleBinding (armed, and pods, so a binding): one found
 * already gone at the deadline was deleted by Kubernetes' controllers, not the operator.
 */
export function timerWasArmed(conditions: readonly Condition[] | undefined, pods: readonly string[] | undefined): boolean {
  const c = conditions?.find((x) => x.type === SECOND_DEADLINE);
  return c?.status === 'True' && (pods?.length ?? 0) > 0;
}
