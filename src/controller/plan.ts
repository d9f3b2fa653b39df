// planGrant: the desired state of one grant, decided from what is observed and nothing
// else. Pure, so every rule of the grant lifecycle is unit-tested with a fake clock.
import type { CachedPod } from '../kube/cached.ts';
import type { ActiveGrantEntry, EndedGrantEntry, IndexChange } from '../api/grant-index.ts';
import { REVOKED_BY_ANNOTATION, REVOKE_ANNOTATION, subjectUsername } from '../api/names.ts';
import { grantPolicyProblems, reservedNamespaceProblem } from '../api/policy.ts';
import { DebugGrantSpecSchema, describeIssues, type DebugGrantSpec } from '../api/schema.ts';
import { hasEnded, isTerminal, type DebugGrant, type GrantPhase } from '../api/types.ts';
import { parseDuration } from '../api/duration.ts';
import type { OperatorConfig } from '../config.ts';
import { planGrantRbac, type GrantRbac, type GrantRef } from './rbac.ts';
import type { Predecessor } from '../revocation/records.ts';
import { selectorMatches } from './selector.ts';

export interface GrantObservation {
  grant: DebugGrant;
  /** Pods in the grant's namespace, from the cache. */
  pods: readonly CachedPod[];
  /** The operator's record of a grant of this name that already ended, if any. */
  ended: EndedGrantEntry | undefined;
  /** This grant's active index entry, if written: it carries the deadline fixed at activation. */
  active?: ActiveGrantEntry | undefined;
  /**
   * A previous grant of this name (another uid) whose access is still on record (its active
   * index entry, or RBAC it owns) although nobody recorded its end: it was deleted with its
   * finalizer removed by hand, or while the operator was away.
   */
  predecessor?: Predecessor | undefined;
  now: Date;
  config: OperatorConfig;
}

export type PhaseReason =
  | 'Activated'
  | 'NoMatchingPods'
  | 'TTLElapsed'
  | 'NotAfterReached'
  | 'InvalidSpec'
  | 'PolicyViolation'
  | 'PolicyChanged'
  | 'NotAfterInPast'
  | 'AlreadyUsed'
  | 'Deleted'
  | 'Ended'
  | 'RevokedByRequest'
  | 'ReservedNamespace';

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
  /** The end of a previous grant of this name, recorded now (its index entry is rewritten to it). */
  predecessorEnded?: (EndedGrantEntry & { subject: string }) | undefined;
  /** Revoked on request: who asked (the API server checked it was them, config/admission/revocation.yaml). */
  revokedBy?: string | undefined;
}

export function planGrant(o: GrantObservation): GrantDecision {
  const { grant, now } = o;
  const ref: GrantRef = { name: grant.metadata.name ?? '', namespace: grant.metadata.namespace ?? '', uid: grant.metadata.uid ?? '' };
  const status = grant.status ?? {};
  const parsed = DebugGrantSpecSchema.safeParse(grant.spec);
  const spec = parsed.success ? parsed.data : undefined;
  const nowIso = now.toISOString();
  // The index entry is written before any RBAC: with it, access may have existed even when
  // no status says so (a crash or a failed status write right after the RoleBinding).
  const ownEnd = o.ended?.uid === ref.uid ? o.ended : undefined;
  const recordedActivation = status.activatedAt ?? o.active?.activatedAt ?? ownEnd?.activatedAt;
  const recordedExpiry = status.expiresAt ?? o.active?.expiresAt ?? ownEnd?.expiresAt;
  const wasActivated = recordedActivation !== undefined;
  const base = {
    ref,
    spec,
    activatedAt: recordedActivation,
    expiresAt: recordedExpiry,
    endedAt: status.endedAt ?? nowIso,
    pods: status.pods ?? o.active?.pods ?? [],
    rbac: undefined,
    deadline: undefined,
    revokedBy: status.revokedBy,
  };
  const ended = (phase: GrantPhase, reason: PhaseReason, message: string): GrantDecision => ({
    ...base,
    phase,
    reason,
    message,
    indexChange:
      wasActivated || hasEnded(phase)
        ? { kind: 'end', grant: ref.name, uid: ref.uid, phase, endedAt: base.endedAt, ...heldAccess(base.activatedAt, base.expiresAt) }
        : { kind: 'remove', grant: ref.name, uid: ref.uid },
  });
  const denied = (reason: PhaseReason, message: string): GrantDecision => ({
    ...base,
    phase: 'Denied',
    reason,
    message,
    endedAt: status.endedAt ?? nowIso,
    pods: [],
    indexChange: { kind: 'remove', grant: ref.name, uid: ref.uid },
  });

  if (o.ended && o.ended.uid !== ref.uid) {
    return denied(
      'AlreadyUsed',
      `a grant named ${ref.name} was already used here and ended (${o.ended.phase} at ${o.ended.endedAt}); ` +
        'a re-applied copy never grants again: open a new grant with a new name and a new approval',
    );
  }
  if (o.predecessor) {
    const previous = o.predecessor;
    const phase: GrantPhase = previous.expiresAt !== undefined && Date.parse(previous.expiresAt) <= now.getTime() ? 'Expired' : 'Revoked';
    return {
      ...denied(
        'AlreadyUsed',
        `a grant named ${ref.name} (uid ${previous.uid}) was already active here and ended (${phase}, its record ` +
          'was left behind when it was deleted); a re-applied copy never grants again: open a new grant with a new name and a new approval',
      ),
      indexChange: { kind: 'end', grant: ref.name, uid: previous.uid, phase, endedAt: nowIso },
      predecessorEnded: { grant: ref.name, uid: previous.uid, phase, endedAt: nowIso, subject: previous.subject },
    };
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
    const by = grant.metadata.annotations?.[REVOKED_BY_ANNOTATION];
    return {
      ...ended('Revoked', 'RevokedByRequest', `revoked by ${by ?? '(unnamed)'}: ${revokeRequest || '(no reason given)'}`),
      revokedBy: by,
    };
  }
  // The admission policy refuses creating these; this holds for one that got in anyway
  // (created before the policy, or while it was unbound or configured otherwise).
  const why = reservedNamespaceProblem(ref.namespace, o.config.reservedNamespaces);
  if (why) {
    return wasActivated ? ended('Revoked', 'PolicyChanged', `the operator's policy no longer allows this grant: ${why}`) : denied('ReservedNamespace', why);
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
  const activatedAt = recordedActivation ?? nowIso;
  const expiresAt =
    recordedExpiry ??
    new Date(Math.min(Date.parse(activatedAt) + (parseDuration(spec.ttl) ?? 0), notAfter?.getTime() ?? Number.POSITIVE_INFINITY)).toISOString();
  if (Date.parse(expiresAt) <= now.getTime()) {
    const byNotAfter = notAfter !== undefined && Date.parse(expiresAt) === notAfter.getTime();
    return {
      ...ended(
        'Expired',
        byNotAfter ? 'NotAfterReached' : 'TTLElapsed',
        byNotAfter ? `notAfter ${spec.notAfter ?? ''} reached` : `ttl ${spec.ttl} elapsed at ${expiresAt}`,
      ),
      activatedAt,
      expiresAt,
      endedAt: status.endedAt ?? nowIso,
    };
  }

  const pods = o.pods
    .filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .filter((p) => selectorMatches(spec.podSelector, p.metadata?.labels))
    .map((p) => p.metadata?.name ?? '')
    .filter(Boolean)
    .sort();
  return {
    ref,
    spec,
    phase: 'Active',
    reason: pods.length > 0 ? 'Activated' : 'NoMatchingPods',
    message:
      pods.length > 0
        ? `${String(pods.length)} pod(s) granted until ${expiresAt}`
        : 'no running pod matches spec.podSelector; access follows as soon as one does, until expiry',
    activatedAt,
    expiresAt,
    endedAt: undefined,
    pods,
    rbac: planGrantRbac(ref, spec, pods),
    indexChange: {
      kind: 'upsert',
      entry: {
        grant: ref.name,
        uid: ref.uid,
        username: subjectUsername(spec.subject) ?? '',
        group: spec.subject.kind === 'Group' ? spec.subject.name : '',
        pods,
        image: spec.image,
        profile: spec.profile,
        access: spec.access,
        activatedAt,
        expiresAt,
      },
    },
    deadline: new Date(expiresAt),
  };
}

/** The access window an ended record keeps, when the grant had one. */
function heldAccess(activatedAt: string | undefined, expiresAt: string | undefined): { activatedAt?: string; expiresAt?: string } {
  return activatedAt && expiresAt ? { activatedAt, expiresAt } : {};
}
