// Verification asks the authorizer, not our own bookkeeping, whether a grant holds (Active:
// every promised access allowed) or is gone (ended: every access it gave denied), by
// SubjectAccessReview as the subject.
import { permissionsFor } from '../api/access.ts';
import { sameMembers } from '../api/equal.ts';
import { subjectText } from '../api/names.ts';
import type { DebugGrantSpec } from '../api/schema.ts';
import { hasEnded, type DebugGrant } from '../api/types.ts';
import { subjectCan } from '../kube/access-review.ts';
import type { KubeApi } from '../kube/client.ts';
import type { Metrics } from '../metrics.ts';
import { exponentialBackoff } from '../runtime/backoff.ts';
import { sleep, type Clock } from '../runtime/clock.ts';
import { objectKey } from '../runtime/object-key.ts';
import { findCondition } from './conditions.ts';
import type { GrantDecision } from './plan.ts';
import type { Verification } from './status.ts';

/** Verification looks again after this, doubling per attempt up to the cap: never a tight loop. */
const VERIFY_RETRY_MS = 100;
const VERIFY_RETRY_CAP_MS = 60_000;
/** RBAC changes reach the authorizer's cache within milliseconds: a few quick looks first. */
const QUICK_LOOKS = 5;
const QUICK_LOOK_MS = 20;

export interface VerifierDeps {
  api: KubeApi;
  clock: Clock;
  metrics: Metrics;
  /** How long after a grant ended access the authorizer still allows counts as in flux (config.revocationSettle). */
  settleMs: number;
}

export interface Verified {
  verification: Verification;
  /** Look again after this long: access not (yet) as it should be. */
  lookAgainAfter?: number;
}

export class AccessVerifier {
  private readonly d: VerifierDeps;
  /** Attempts per grant that found access not (yet) as it should be. */
  private readonly attempts = new Map<string, number>();

  constructor(deps: VerifierDeps) {
    this.d = deps;
  }

  async verify(d: GrantDecision, grant: DebugGrant, rbacChanged: boolean, now: Date): Promise<Verified> {
    const spec = d.spec;
    if (!spec || d.pods.length === 0) return { verification: {} };
    if (d.phase === 'Active') return this.granted(spec, d, grant, rbacChanged, now);
    if (hasEnded(d.phase)) return this.revoked(spec, d, grant, rbacChanged, now);
    return { verification: {} };
  }

  /** The grant has no deadline any more: its attempts are forgotten. */
  forget(key: string): void {
    this.attempts.delete(key);
  }

  private async granted(spec: DebugGrantSpec, d: GrantDecision, grant: DebugGrant, rbacChanged: boolean, now: Date): Promise<Verified> {
    const ready = findCondition(grant.status?.conditions, 'Ready');
    if (!rbacChanged && ready?.status === 'True' && sameMembers(grant.status?.pods, d.pods)) {
      return { verification: { granted: { ok: true, message: ready.message } } };
    }
    const key = objectKey(d.ref.namespace, d.ref.name);
    const missing = await this.quickLooks(spec, d, true);
    if (missing.length > 0) {
      // Not effective yet: look again later, backing off (a cluster that never allows it is not hammered).
      const attempt = (this.attempts.get(key) ?? 0) + 1;
      this.attempts.set(key, attempt);
      return {
        verification: { granted: { ok: false, message: `SubjectAccessReview does not yet allow: ${missing.slice(0, 5).join(', ')}` } },
        lookAgainAfter: exponentialBackoff(attempt, { baseMs: VERIFY_RETRY_MS, maxMs: VERIFY_RETRY_CAP_MS }),
      };
    }
    this.attempts.delete(key);
    if (ready?.status !== 'True' && grant.metadata.creationTimestamp) {
      this.d.metrics.activationLatency.observe(Math.max(0, now.getTime() - new Date(grant.metadata.creationTimestamp).getTime()) / 1000);
    }
    return { verification: { granted: { ok: true, message: '' } } };
  }

  private async revoked(spec: DebugGrantSpec, d: GrantDecision, grant: DebugGrant, rbacChanged: boolean, now: Date): Promise<Verified> {
    const done = findCondition(grant.status?.conditions, 'RevocationVerified');
    if (done && done.status !== 'Unknown' && !rbacChanged) return { verification: { revoked: { ok: done.status === 'True', message: done.message } } };
    const remaining = await this.quickLooks(spec, d, false);
    if (remaining.length === 0) {
      return { verification: { revoked: { ok: true, message: `SubjectAccessReview denies ${subjectText(spec.subject)} every access this grant gave` } } };
    }
    // Access the authorizer still allows after the settle time comes from other bindings.
    const settleUntil = Date.parse(d.endedAt ?? now.toISOString()) + this.d.settleMs;
    if (this.d.clock.now() >= settleUntil) {
      return {
        verification: {
          revoked: { ok: false, message: `${subjectText(spec.subject)} still has access through other RBAC bindings: ${remaining.slice(0, 8).join(', ')}` },
        },
      };
    }
    return { verification: {}, lookAgainAfter: Math.min(settleUntil - this.d.clock.now(), VERIFY_RETRY_MS * 2) };
  }

  /**
   * RBAC changes reach the authorizer's cache within milliseconds: a few quick looks (≤ 100 ms)
   * while it catches up. A look asks only what the looks before did not find as wanted: an
   * answer already as wanted is not asked again (it would only change if the grant's RBAC did,
   * and that reconciles the grant again).
   * Active (`wantAllowed`): the promised accesses the authorizer does NOT allow. Ended: those it STILL allows.
   */
  private async quickLooks(spec: DebugGrantSpec, d: GrantDecision, wantAllowed: boolean): Promise<string[]> {
    let open = d.pods.flatMap((pod) => permissionsFor(spec.access).flatMap((p) => p.verbs.map((verb) => ({ pod, verb, subresource: p.subresource }))));
    for (let look = 0; ; look++) {
      const answers = await Promise.all(
        open.map(async (c) => ({ c, allowed: await subjectCan(this.d.api, spec.subject, { namespace: d.ref.namespace, ...c }) })),
      );
      open = answers.filter((a) => a.allowed !== wantAllowed).map(({ c }) => c);
      if (open.length === 0 || look >= QUICK_LOOKS) break;
      await sleep(this.d.clock, QUICK_LOOK_MS);
    }
    return open.map((c) => `${c.verb} pods${c.subresource ? '/' + c.subresource : ''} ${c.pod}`);
  }
}
