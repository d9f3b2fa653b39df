// The status a decision should leave on the grant. Pure: conditions and phase from the
// decision plus what verification by SubjectAccessReview found.
import type { DebugGrantStatus, LingeringContainer } from '../api/types.ts';
import { setConditions, type ConditionInput } from './conditions.ts';
import { sameContent } from '../api/equal.ts';
import type { GrantDecision } from './plan.ts';

export interface Verification {
  /** Active: every promised access allowed (true), some missing (message names it), or not checked yet. */
  granted?: { ok: boolean; message: string };
  /** Ended: no access left (true), or standing access through other bindings (message names it). */
  revoked?: { ok: boolean; message: string };
}

export function desiredStatus(
  d: GrantDecision, previous: DebugGrantStatus | undefined, v: Verification, lingering: LingeringContainer[] | undefined,
  generation: number, now: Date,
): DebugGrantStatus {
  const conditions: ConditionInput[] = [];
  const ended = d.phase === 'Expired' || d.phase === 'Revoked';
  if (d.phase === 'Active') {
    const ready = d.pods.length === 0
      ? { status: 'False' as const, reason: 'NoMatchingPods', message: d.message }
      : v.granted === undefined
        ? { status: 'Unknown' as const, reason: 'Verifying', message: 'checking access with SubjectAccessReview' }
        : v.granted.ok
          ? { status: 'True' as const, reason: 'AccessVerified', message: `${d.message}; verified by SubjectAccessReview` }
          : { status: 'False' as const, reason: 'AccessNotEffective', message: v.granted.message };
    conditions.push({ type: 'Ready', ...ready });
  } else {
    conditions.push({ type: 'Ready', status: 'False', reason: d.reason, message: d.message });
  }
  conditions.push({ type: 'Expired', status: d.phase === 'Expired' ? 'True' : 'False', reason: d.phase === 'Expired' ? d.reason : 'NotExpired', message: d.phase === 'Expired' ? d.message : '' });
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
    lingering: ended ? lingering ?? previous?.lingering ?? [] : undefined,
    observedGeneration: generation,
    // A reconcile that got this far is no longer failing: the Failing condition goes.
    conditions: setConditions(previous?.conditions?.filter((c) => (c.type !== 'RevocationVerified' || ended) && c.type !== FAILING), conditions, generation, now),
  };
  return stripUndefined(status);
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Set by a reconcile the API server refuses outright (forbidden, invalid); cleared by the next one that completes. */
export const FAILING = 'Failing';

/** The status with a Failing condition saying why the last reconcile could not complete. */
export function failingStatus(previous: DebugGrantStatus | undefined, message: string, generation: number, now: Date): DebugGrantStatus {
  return { ...previous, conditions: setConditions(previous?.conditions, [{ type: FAILING, status: 'True', reason: 'PermanentError', message }], generation, now) };
}

export function sameStatus(a: DebugGrantStatus | undefined, b: DebugGrantStatus): boolean {
  return sameContent(a ?? {}, b);
}
