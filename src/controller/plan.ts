// planGrant: the desired state of one grant, decided from what is observed and nothing
// else. Pure, so every rule of the grant lifecycle is unit-tested with a fake clock.
import type { V1Pod } from '@kubernetes/client-node';
import type { ActiveGrantEntry, EndedGrantEntry, IndexChange } from '../api/grant-index.ts';
import { REVOKE_ANNOTATION, subjectUsername } from '../api/names.ts';
import { grantPolicyProblems } from '../api/policy.ts';
import { DebugGrantSpecSchema, describeIssues, type DebugGrantSpec } from '../api/schema.ts';
import { isTerminal, type DebugGrant, type GrantPhase } from '../api/types.ts';
import { parseDuration } from '../api/duration.ts';
import type { OperatorConfig } from '../config.ts';
import { planGrantRbac, type GrantRbac, type GrantRef } from './rbac.ts';
import { selectorMatches } from './selector.ts';

export interface GrantObservation {
  grant: DebugGrant;
  /** Pods in the grant's namespace, from the cache. */
  pods: readonly V1Pod[];
  /** The operator's record of a grant of this name that already ended, if any. */
  ended: EndedGrantEntry | undefined;
  /** This grant's active index entry, if written: it carries the deadline fixed at activation. */
  active?: ActiveGrantEntry | undefined;
  now: Date;
  config: OperatorConfig;
}

export type PhaseReason =
  | 'Activated' | 'NoMatchingPods' | 'TTLElapsed' | 'NotAfterReached' | 'InvalidSpec' | 'PolicyViolation'
  | 'PolicyChanged' | 'NotAfterInPast' | 'AlreadyUsed' | 'Deleted' | 'Ended' | 'RevokedByRequest';

export interface GrantDecision {
  ref: GrantRef;
  phase: GrantPhase;
  reason: PhaseReason;
  message: string;
  spec: DebugGrantSpec | undefined;
  activatedAt: string | undefined;
  expiresAt: string | undefined;
  endedAt: string | undefined;
  /** Active: the pods granted now. Ended: the pods that were granted (revocation is verified on them). */
  pods: string[];
  /** undefined: no Role or RoleBinding may exist for this grant. */
  rbac: GrantRbac | undefined;
  indexChange: IndexChange | undefined;
  /** When to look again without any event: the expiry. */
  deadline: Date | undefined;
}

export function planGrant(o: GrantObservation): GrantDecision {
  const { grant, now } = o;
  const ref: GrantRef = { name: grant.metadata.name ?? '', namespace: grant.metadata.namespace ?? '', uid: grant.metadata.uid ?? '' };
  const status = grant.status ?? {};
  const parsed = DebugGrantSpecSchema.safeParse(grant.spec);
  const spec = parsed.success ? parsed.data : undefined;
  const nowIso = now.toISOString();
  const wasActivated = status.activatedAt !== undefined;
  const base = {
    ref, spec, activatedAt: status.activatedAt, expiresAt: status.expiresAt, endedAt: status.endedAt ?? nowIso,
    pods: status.pods ?? [], rbac: undefined, deadline: undefined,
  };
  const ended = (phase: GrantPhase, reason: PhaseReason, message: string): GrantDecision => ({
    ...base, phase, reason, message,
    indexChange: wasActivated || phase === 'Expired' || phase === 'Revoked'
      ? { kind: 'end', grant: ref.name, uid: ref.uid, phase, endedAt: base.endedAt }
      : { kind: 'remove', grant: ref.name, uid: ref.uid },
  });
  const denied = (reason: PhaseReason, message: string): GrantDecision => ({
    ...base, phase: 'Denied', reason, message, endedAt: status.endedAt ?? nowIso, pods: [],
    indexChange: { kind: 'remove', grant: ref.name, uid: ref.uid },
  });

  if (o.ended && o.ended.uid !== ref.uid) {
    return denied('AlreadyUsed', `a grant named ${ref.name} was already used here and ended (${o.ended.phase} at ${o.ended.endedAt}); ` +
      'a re-applied copy never grants again: open a new grant with a new name and a new approval');
  }
  if (isTerminal(status.phase)) {
    // Terminal is terminal: keep the reason it ended with.
    const phase = status.phase ?? 'Denied';
    const why = status.conditions?.find((c) => c.type === (phase === 'Expired' ? 'Expired' : phase));
    const reason = (why?.reason ?? 'Ended') as PhaseReason;
    const message = why?.message ?? `this grant is ${phase}`;
    return phase === 'Denied' ? denied(reason, message) : ended(phase, reason, message);
  }
  // Our record says it ended but its status does not (status wiped or restored from backup).
  if (o.ended) return ended(o.ended.phase, 'Ended', `this grant ended (${o.ended.phase}) at ${o.ended.endedAt}`);
  if (grant.metadata.deletionTimestamp) {
    return ended(wasActivated ? 'Revoked' : 'Denied', 'Deleted', 'the grant was deleted; its access is revoked');
  }
  const revokeRequest = grant.metadata.annotations?.[REVOKE_ANNOTATION];
  if (revokeRequest !== undefined) {
    // Revoked even before activation, so a revoked name stays spent.
    return ended('Revoked', 'RevokedByRequest', `revoked on request: ${revokeRequest || '(no reason given)'}`);
  }
  if (!spec) {
    return denied('InvalidSpec', describeIssues(parsed.error as NonNullable<typeof parsed.error>, 'spec').join('; '));
  }
  const problems = grantPolicyProblems(spec, o.config);
  if (problems.length > 0) {
    return wasActivated
      ? ended('Revoked', 'PolicyChanged', `the operator's policy no longer allows this grant: ${problems.join('; ')}`)
      : denied('PolicyViolation', problems.join('; '));
  }

  const notAfter = spec.notAfter ? new Date(spec.notAfter) : undefined;
  if (!wasActivated && notAfter && notAfter.getTime() <= now.getTime()) {
    return denied('NotAfterInPast', `spec.notAfter ${spec.notAfter ?? ''} is already past; nothing to grant`);
  }
  // Fixed at first activation (recorded in the index before any RBAC exists, then in status)
  // and never recomputed: a crash, a restart or a re-sync cannot extend it.
  const activatedAt = status.activatedAt ?? o.active?.activatedAt ?? nowIso;
  const expiresAt = status.expiresAt ?? o.active?.expiresAt ?? new Date(Math.min(
    Date.parse(activatedAt) + (parseDuration(spec.ttl) ?? 0),
    notAfter?.getTime() ?? Number.POSITIVE_INFINITY,
  )).toISOString();
  if (Date.parse(expiresAt) <= now.getTime()) {
    const byNotAfter = notAfter !== undefined && Date.parse(expiresAt) === notAfter.getTime();
    return {
      ...ended('Expired', byNotAfter ? 'NotAfterReached' : 'TTLElapsed',
        byNotAfter ? `notAfter ${spec.notAfter ?? ''} reached` : `ttl ${spec.ttl} elapsed at ${expiresAt}`),
      activatedAt, expiresAt, endedAt: status.endedAt ?? nowIso,
    };
  }

  const pods = o.pods
    .filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .filter((p) => selectorMatches(spec.podSelector, p.metadata?.labels))
    .map((p) => p.metadata?.name ?? '')
    .filter(Boolean)
    .sort();
  return {
    ref, spec, phase: 'Active',
    reason: pods.length > 0 ? 'Activated' : 'NoMatchingPods',
    message: pods.length > 0
      ? `${String(pods.length)} pod(s) granted until ${expiresAt}`
      : 'no running pod matches spec.podSelector; access follows as soon as one does, until expiry',
    activatedAt, expiresAt, endedAt: undefined, pods,
    rbac: planGrantRbac(ref, spec, pods),
    indexChange: {
      kind: 'upsert',
      entry: {
        grant: ref.name, uid: ref.uid,
        username: subjectUsername(spec.subject) ?? '', group: spec.subject.kind === 'Group' ? spec.subject.name : '',
        pods, image: spec.image, profile: spec.profile, activatedAt, expiresAt,
      },
    },
    deadline: new Date(expiresAt),
  };
}
