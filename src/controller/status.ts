// The status a decision should leave on the grant. Pure: conditions and phase from the
// decision plus what verification by SubjectAccessReview found.
import { hasEnded, type DebugGrantStatus, type LingeringContainer } from '../api/types.ts';
import { setConditions, type ConditionInput } from './conditions.ts';
import { sameContent } from '../api/equal.ts';
import type { GrantDecision } from './plan.ts';

export interface Verification {
  /** Active: every promised access allowed (true), some missing (message names it), or not checked yet. */
  granted?: { ok: boolean; message: string };
  /** Ended: no access left (true), or standing access through other bindings (message names it). */
  revoked?: { ok: boolean; message: string };
  /** Active: whether Kubernetes' controllers hold the second deadline (the timer Job, src/revocation/timer-job.ts). */
  secondDeadline?: ConditionInput;
  /** Active: whether every session it allows ends at its deadline (controller/sessions-bounded.ts). */
  sessionsBounded?: ConditionInput;
}

export function desiredStatus(
  d: GrantDecision,
  previous: DebugGrantStatus | undefined,
  v: Verification,
  lingering: LingeringContainer[] | undefined,
  generation: number,
  now: Date,
  lingeringRunning: readonly LingeringContainer[] = [],
): DebugGrantStatus {
  const ended = hasEnded(d.phase);
  const conditions: ConditionInput[] = [...progressConditions(d, v, lingeringRunning)];
  conditions.push({
    type: 'Expired',
    status: d.phase === 'Expired' ? 'True' : 'False',
    reason: d.phase === 'Expired' ? d.reason : 'NotExpired',
    message: d.phase === 'Expired' ? d.message : '',
  });
  if (d.phase === 'Active' && v.secondDeadline) conditions.push(v.secondDeadline);
  if (d.phase === 'Active' && v.sessionsBounded) conditions.push(v.sessionsBounded);
  if (d.phase === 'Denied') conditions.push({ type: 'Denied', status: 'True', reason: d.reason, message: d.message });
  if (d.phase === 'Revoked') conditions.push({ type: 'Revoked', status: 'True', reason: d.reason, message: d.message });
  if (ended && v.revoked) {
    conditions.push({
      type: 'RevocationVerified',
      status: v.revoked.ok ? 'True' : 'False',
      reason: v.revoked.ok ? 'NoAccessRemains' : 'StandingAccess',
      message: v.revoked.message,
    });
  }
  const status: DebugGrantStatus = {
    phase: d.phase,
    activatedAt: d.activatedAt,
    expiresAt: d.expiresAt,
    endedAt: d.phase === 'Active' ? undefined : d.endedAt,
    pods: d.pods,
    revokedBy: d.phase === 'Revoked' ? d.revokedBy : undefined,
    lingering: ended ? (lingering ?? previous?.lingering ?? []) : undefined,
    observedGeneration: generation,
    // A reconcile that got this far is no longer failing: the Failing condition goes.
    conditions: setConditions(
      previous?.conditions?.filter((c) => (c.type !== 'RevocationVerified' || ended) && c.type !== FAILING),
      conditions,
      generation,
      now,
    ),
  };
  return stripUndefined(status);
}

/**
 * Ready, Reconciling and Stalled as kstatus (sigs.k8s.io/cli-utils/pkg/kstatus) reads them,
 * which is what Flux's health checks and the Argo CD health check (config/gitops) go by:
 * Stalled=True is Failed, Reconciling=True is InProgress, else Ready=True is Current. At most
 * one of Reconciling and Stalled is True (kstatus takes the first True one it meets).
 * - healthy (Current): Active with access verified by SubjectAccessReview; Expired or Revoked
 *   with no access left (verified): a grant that ended is a normal end, reconciled, not a failure.
 * - progressing (InProgress): Active while access is being verified or no pod matches yet;
 *   ended while the revocation is being verified.
 * - degraded (Failed): Denied; ended with access still standing through other bindings;
 *   ended with a debug container still running past the deadline; a reconcile the API
 *   server refuses (failingStatus).
 */
function progressConditions(d: GrantDecision, v: Verification, lingeringRunning: readonly LingeringContainer[]): ConditionInput[] {
  const healthy = (reason: string, message: string): ConditionInput[] => [
    { type: READY, status: 'True', reason, message },
    { type: RECONCILING, status: 'False', reason, message: '' },
    { type: STALLED, status: 'False', reason, message: '' },
  ];
  const progressing = (ready: 'False' | 'Unknown', reason: string, message: string): ConditionInput[] => [
    { type: READY, status: ready, reason, message },
    { type: RECONCILING, status: 'True', reason, message },
    { type: STALLED, status: 'False', reason, message: '' },
  ];
  const degraded = (reason: string, message: string): ConditionInput[] => [
    { type: READY, status: 'False', reason, message },
    { type: RECONCILING, status: 'False', reason, message: '' },
    { type: STALLED, status: 'True', reason, message },
  ];
  switch (d.phase) {
    case 'Active':
      if (d.pods.length === 0) return progressing('False', 'NoMatchingPods', d.message);
      if (v.granted === undefined) return progressing('Unknown', 'Verifying', 'checking access with SubjectAccessReview');
      if (!v.granted.ok) return progressing('False', 'AccessNotEffective', v.granted.message);
      return healthy('AccessVerified', `${d.message}; verified by SubjectAccessReview`);
    case 'Expired':
    case 'Revoked': {
      if (lingeringRunning.length > 0) {
        const what = lingeringRunning.map((l) => `${l.pod}/${l.container}`).join(', ');
        return degraded('LingeringEphemeralContainer', `${d.phase}, but debug containers still run past the grant's end: ${what}`);
      }
      if (v.revoked && !v.revoked.ok) return degraded('StandingAccess', v.revoked.message);
      // With no pods ever granted there is no access to verify the end of.
      if (d.pods.length > 0 && !v.revoked)
        return progressing('Unknown', 'VerifyingRevocation', `${d.message}; checking with SubjectAccessReview that no access remains`);
      return healthy(d.reason, `${d.phase} (a normal end): ${d.message}${v.revoked ? '; no access remains (SubjectAccessReview)' : ''}`);
    }
    case 'Denied':
      return degraded(d.reason, d.message);
    case 'Pending':
      return progressing('Unknown', 'Pending', d.message);
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const READY = 'Ready';
const RECONCILING = 'Reconciling';
const STALLED = 'Stalled';

/** Set by a reconcile the API server refuses outright (forbidden, invalid); cleared by the next one that completes. */
export const FAILING = 'Failing';

/** The status with a Failing condition saying why the last reconcile could not complete. */
export function failingStatus(previous: DebugGrantStatus | undefined, message: string, generation: number, now: Date): DebugGrantStatus {
  return {
    ...previous,
    // Observed, and stuck: without it kstatus would say InProgress (generation not observed) instead of Failed.
    observedGeneration: generation,
    conditions: setConditions(
      previous?.conditions,
      [
        { type: FAILING, status: 'True', reason: 'PermanentError', message },
        { type: RECONCILING, status: 'False', reason: 'PermanentError', message: '' },
        { type: STALLED, status: 'True', reason: 'PermanentError', message },
      ],
      generation,
      now,
    ),
  };
}

export function sameStatus(a: DebugGrantStatus | undefined, b: DebugGrantStatus): boolean {
  return sameContent(a ?? {}, b);
}
