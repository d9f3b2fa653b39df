// The deadline's fast path: at a grant's recorded deadline, delete its RoleBinding and nothing
// else, in the urgent lane. Always safe (past its deadline a grant may hold no access); the
// full reconcile that follows does the rest of the expiry (Role, index entry, status, audit).
import { rbacName } from '../api/names.ts';
import type { AccessLedger } from '../controller/access-ledger.ts';
import type { FreshGrants } from '../controller/fresh-grants.ts';
import type { IndexWriter } from '../controller/index-writer.ts';
import type { CachedRoleBinding } from '../kube/cached.ts';
import type { KubeApi } from '../kube/client.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Clock } from '../runtime/clock.ts';
import type { KeyedLock } from '../runtime/keyed-lock.ts';
import { splitKey } from '../runtime/object-key.ts';
import type { Cache } from '../runtime/cache.ts';
import { recordedDeadline } from './records.ts';
import { revokeRoleBinding } from './revoke-binding.ts';
import { timerWasArmed } from './second-deadline.ts';

export interface FastPathDeps {
  /** The urgent lane (lanes.ts). */
  urgentApi: KubeApi;
  clock: Clock;
  metrics: Metrics;
  grants: FreshGrants;
  index: IndexWriter;
  bindings: Cache<CachedRoleBinding>;
  /** One grant's RBAC is written by one party at a time (shared with the RBAC writer). */
  rbacLocks: KeyedLock;
  ledger: AccessLedger;
  log: Logger;
}

export class DeadlineFastPath {
  private readonly d: FastPathDeps;
  /** Grants whose RoleBinding this path deleted (so the reconcile need not again). */
  private readonly done = new Set<string>();

  constructor(deps: FastPathDeps) {
    this.d = deps;
  }

  /**
   * Deletes the RoleBinding of `key` if its recorded deadline has passed. It waits for an RBAC
   * write of the same grant already in flight, so that write can never land after this delete;
   * those writes give up at the deadline, so the wait ends there. (One given up while its bytes
   * were still stuck in the network could reach the server later: the RoleBinding's watch
   * event then reconciles the ended grant, which deletes it again.)
   */
  async revoke(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const called = this.d.clock.now();
    await this.d.rbacLocks.run(key, async () => {
      const locked = this.d.clock.now();
      const deadline = recordedDeadline(this.d.index.content(namespace), name, this.d.grants.get(key));
      if (deadline === undefined || deadline > locked) return;
      // Already done, and nothing seen since: a re-armed deadline need not send it again.
      if (this.done.has(key) && !this.d.bindings.get(rbacName(name), namespace)) return;
      const asks: number[] = [];
      const deleted = await revokeRoleBinding(this.d.urgentApi, this.d.clock, namespace, rbacName(name), () => asks.push(this.d.clock.now()));
      // Where the time between the deadline and the answer went: the timer's own lateness (the
      // event loop held, or a retry), the RBAC lock, the urgent lane and connection, the API server.
      this.d.log.debug(
        { key, deadline: new Date(deadline).toISOString(), ...revocationTiming(deadline, called, locked, asks, this.d.clock.now()), deleted },
        'deadline revocation timing',
      );
      const grant = this.d.grants.get(key);
      // Already gone at the deadline while its timer held it: Kubernetes' controllers ended it.
      if (!deleted && !this.done.has(key) && timerWasArmed(grant?.status?.conditions, grant?.status?.pods)) this.d.ledger.timerEnded(key);
      this.done.add(key);
      if (!deleted) return;
      this.d.ledger.sent(key);
      this.d.metrics.revocationLateness.observe(Math.max(0, this.d.clock.now() - deadline) / 1000);
    });
  }

  /** Whether this path deleted the grant's RoleBinding since the last ask (the reconcile's question). */
  takeDone(key: string): boolean {
    return this.done.delete(key);
  }
}

/**
 * Milliseconds after the deadline at each step of one fast-path revocation (its debug line).
 * `asks`: when a delete attempt was asked whether it is still wanted: as its urgent-lane slot
 * came, then as its connection was about to write it (the first attempt's second ask is when
 * the DELETE went out; a client that does not ask, the lane's).
 */
export function revocationTiming(deadline: number, called: number, locked: number, asks: readonly number[], answered: number) {
  const late = (t: number | undefined): number | undefined => (t === undefined ? undefined : t - deadline);
  return {
    timerLateMs: called - deadline,
    lockWaitMs: locked - called,
    laneLateMs: late(asks[0]),
    sentLateMs: late(asks[1] ?? asks[0]),
    answeredLateMs: answered - deadline,
  };
}
