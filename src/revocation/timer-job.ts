// The second deadline path, planned. Per active grant with RBAC, one inert Job (the timer)
// in the grant's namespace, owned by the grant, whose activeDeadlineSeconds ends at the
// grant's recorded expiresAt; it is the only owner of the grant's RoleBinding. Kubernetes'
// own controllers then end access with no debuggrant process running: the Job controller
// marks the timer Failed (DeadlineExceeded) at status.startTime + activeDeadlineSeconds, the
// TTL-after-finished controller deletes it at once (ttlSecondsAfterFinished 0, foreground),
// and the garbage collector deletes the RoleBinding, whose only owner it was.
// No pod can come from a timer: parallelism 0, and its pod template is gated so a scheduler
// never places it (config/admission/timers.yaml holds the operator to both).
// Pure: the Job to create, how far its deadline may be shortened, what the grant says of it.
import { createHash } from 'node:crypto';
import type { V1Job, V1OwnerReference } from '@kubernetes/client-node';
import { GRANT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, TIMER_LABEL } from '../api/names.ts';
import { API_VERSION, KIND } from '../api/schema.ts';
import type { ConditionInput } from '../controller/conditions.ts';
import type { GrantRef } from '../controller/rbac.ts';
import type { CachedTimer } from '../kube/cached.ts';

/** The condition type on the grant that says whether Kubernetes holds the second deadline. */
export const SECOND_DEADLINE = 'SecondDeadline';
/** A scheduling gate nobody removes: a pod of the timer, were one ever created, would never be scheduled. */
export const TIMER_GATE = 'debuggrant.dev/never-runs';
/** The image of the timer's (never created) pod: a reserved domain, so nothing can be pulled. */
export const TIMER_IMAGE = 'debuggrant.invalid/timer-never-runs';
/** A timer with no status.startTime this long after its creation: no Job controller runs here. */
export const NO_CONTROLLER_AFTER_MS = 5_000;
/** Who ended a grant whose RoleBinding was already gone at the deadline, its timer armed (audit `by`). */
export const TIMER_REVOKER = 'kube-controller-manager (timer Job)';

const MAX_NAME = 63;
const PREFIX = 'debuggrant-timer-';

/** The timer's name: readable when it fits a Job name (63 characters), else cut with a hash of the whole. */
export function timerName(grant: string): string {
  const full = `${PREFIX}${grant}`;
  if (full.length <= MAX_NAME) return full;
  const hash = createHash('sha256').update(grant).digest('hex').slice(0, 8);
  return `${full.slice(0, MAX_NAME - hash.length - 1).replace(/[-.]+$/, '')}-${hash}`;
}

const SECOND = 1000;
const floorSecond = (ms: number): number => Math.floor(ms / SECOND) * SECOND;
const ceilSecond = (ms: number): number => Math.ceil(ms / SECOND) * SECOND;

/**
 * activeDeadlineSeconds counted from `startMs`, so that the timer fires at the first whole
 * second at or after `expiresAtMs`. The Job controller counts from status.startTime, which it
 * sets at its first sync and stores in whole seconds (it compares against the stored, truncated
 * value, so it fires at stored startTime + activeDeadlineSeconds at the earliest): counted from
 * the whole second holding `startMs`, never early when the Job controller starts it later.
 */
export function deadlineSeconds(expiresAtMs: number, startMs: number): number {
  return Math.max(1, Math.round((ceilSecond(expiresAtMs) - floorSecond(startMs)) / SECOND));
}

/**
 * The timer to create `nowMs`, before the grant's RoleBinding exists. Its startTime will be the
 * Job controller's first sync, normally within the same second; when it is later, the
 * deadline is shortened once startTime is seen (shortenedDeadline).
 */
export function desiredTimer(ref: GrantRef, expiresAt: string, nowMs: number): V1Job {
  const labels = { [MANAGED_BY_LABEL]: MANAGED_BY, [GRANT_LABEL]: ref.name, [TIMER_LABEL]: 'true' };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: timerName(ref.name),
      namespace: ref.namespace,
      labels,
      ownerReferences: [{ apiVersion: API_VERSION, kind: KIND, name: ref.name, uid: ref.uid, controller: true }],
    },
    spec: {
      parallelism: 0,
      completions: 1,
      backoffLimit: 0,
      activeDeadlineSeconds: deadlineSeconds(Date.parse(expiresAt), nowMs),
      ttlSecondsAfterFinished: 0,
      template: {
        metadata: { labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [TIMER_LABEL]: 'true' } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          schedulingGates: [{ name: TIMER_GATE }],
          // Within the restricted Pod Security level, so no namespace warns about the template.
          securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'timer',
              image: TIMER_IMAGE,
              command: ['false'],
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  };
}

export type TimerState =
  /** No Job of that name. */
  | 'missing'
  /** A Job of that name that is not this grant's timer (another owner, or no timer label). */
  | 'foreign'
  /** Being deleted, or already fired: the garbage collector is about to take its RoleBinding. */
  | 'ending'
  /** Created; the Job controller has not set status.startTime yet. */
  | 'starting'
  | 'armed';

export function timerState(timer: CachedTimer | undefined, ref: GrantRef): TimerState {
  if (!timer) return 'missing';
  const ours = timer.metadata.labels?.[TIMER_LABEL] === 'true' && (timer.metadata.ownerReferences ?? []).some((o) => o.uid === ref.uid);
  if (!ours) return 'foreign';
  if (timer.metadata.deletionTimestamp || timer.finished) return 'ending';
  return timer.startTime ? 'armed' : 'starting';
}

/** When the Job controller fails the timer (from its stored startTime), if started. */
export function firesAt(timer: CachedTimer): number | undefined {
  if (!timer.startTime || timer.activeDeadlineSeconds === undefined) return undefined;
  return Date.parse(timer.startTime) + timer.activeDeadlineSeconds * SECOND;
}

/**
 * The shorter activeDeadlineSeconds a started timer needs to fire at the first whole second
 * at or after the deadline, or undefined when it already does (a timer is only ever shortened).
 */
export function shortenedDeadline(timer: CachedTimer, expiresAtMs: number): number | undefined {
  if (!timer.startTime || timer.activeDeadlineSeconds === undefined) return undefined;
  const wanted = deadlineSeconds(expiresAtMs, Date.parse(timer.startTime));
  return wanted < timer.activeDeadlineSeconds ? wanted : undefined;
}

/** The RoleBinding's one owner: the timer when there is one to own it, else the grant. */
export function bindingOwner(ref: GrantRef, timer: CachedTimer | undefined, state: TimerState): V1OwnerReference {
  if (timer && (state === 'armed' || state === 'starting')) {
    return { apiVersion: 'batch/v1', kind: 'Job', name: timer.metadata.name ?? '', uid: timer.metadata.uid ?? '' };
  }
  return { apiVersion: API_VERSION, kind: KIND, name: ref.name, uid: ref.uid, controller: true };
}

/**
 * What the grant's SecondDeadline condition says of its timer as observed (or refused) now.
 * `nowMs` only decides whether a timer is overdue to start; the words depend on the observed
 * state alone, so a reconcile of an unchanged grant writes nothing.
 */
export function secondDeadlineCondition(timer: CachedTimer | undefined, state: TimerState, nowMs: number, refusal?: string): ConditionInput {
  const name = timer?.metadata.name ?? '';
  const operatorOnly = 'only the operator ends this grant';
  if (refusal !== undefined) {
    return { type: SECOND_DEADLINE, status: 'False', reason: 'TimerRefused', message: `the API server refused the timer Job: ${refusal}; ${operatorOnly}` };
  }
  switch (state) {
    case 'armed': {
      const fire = timer ? firesAt(timer) : undefined;
      const at = fire === undefined ? 'an unknown time' : new Date(fire).toISOString();
      return {
        type: SECOND_DEADLINE,
        status: 'True',
        reason: 'TimerArmed',
        message:
          `Job ${name} fails at ${at} (status.startTime ${timer?.startTime ?? ''} + activeDeadlineSeconds ${String(timer?.activeDeadlineSeconds)}); ` +
          'kube-controller-manager then deletes it and the RoleBinding it owns, with or without the operator running',
      };
    }
    case 'starting': {
      const created = Date.parse(timer?.metadata.creationTimestamp ?? '');
      if (Number.isFinite(created) && nowMs - created >= NO_CONTROLLER_AFTER_MS) {
        return {
          type: SECOND_DEADLINE,
          status: 'False',
          reason: 'NoJobController',
          // The threshold, not the time elapsed: a message that changed with the clock made every
          // reconcile write the status again, whose watch event asked for the next reconcile.
          message:
            `Job ${name} has no status.startTime ${String(NO_CONTROLLER_AFTER_MS / SECOND)}s after it was created: ` +
            `no Job controller (kube-controller-manager) runs it, so ${operatorOnly}`,
        };
      }
      return { type: SECOND_DEADLINE, status: 'Unknown', reason: 'TimerStarting', message: `Job ${name} created; waiting for the Job controller to start it` };
    }
    case 'foreign':
      return {
        type: SECOND_DEADLINE,
        status: 'False',
        reason: 'TimerNameTaken',
        message: `a Job named ${name} exists that is not this grant's timer; ${operatorOnly}`,
      };
    case 'ending':
      return {
        type: SECOND_DEADLINE,
        status: 'Unknown',
        reason: 'TimerReplacing',
        message: `Job ${name} is being deleted before the deadline; a new timer follows`,
      };
    case 'missing':
      return { type: SECOND_DEADLINE, status: 'Unknown', reason: 'TimerMissing', message: 'no timer Job yet' };
  }
}

/** When a timer still starting should be looked at again, to tell whether a Job controller runs it. */
export function recheckStartingAfter(timer: CachedTimer, nowMs: number): number | undefined {
  const created = Date.parse(timer.metadata.creationTimestamp ?? '');
  if (timer.startTime || !Number.isFinite(created)) return undefined;
  const left = created + NO_CONTROLLER_AFTER_MS - nowMs;
  return left > 0 ? left : undefined;
}
