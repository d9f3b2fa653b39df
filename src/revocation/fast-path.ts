// The deadline's fast path: at a grant's recorded deadline, delete its RoleBinding and nothing
// else, in the urgent lane. Always safe (past its deadline a grant may hold no access); the
// full reconcile that follows does the rest of the expiry (Role, index entry, status, audit).
import { rbacName } from '../api/names.ts';
import type { AccessLedger } from '../controller/access-ledger.ts';
import type { FreshGrants } from '../controller/fresh-grants.ts';
import type { IndexWriter } from '../controller/index-writer.ts';
import type { CachedRoleBinding } from '../kube/cached.ts';
import type { KubeApi } from '../kube/client.ts';
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
    await this.d.rbacLocks.run(key, async () => {
      const deadline = recordedDeadline(this.d.index.content(namespace), name, this.d.grants.get(key));
      if (deadline === undefined || deadline > this.d.clock.now()) return;
      // Already done, and nothing seen since: a re-armed deadline need not send it again.
      if (this.done.has(key) && !this.d.bindings.get(rbacName(name), namespace)) return;
      const deleted = await revokeRoleBinding(this.d.urgentApi, this.d.clock, namespace, rbacName(name));
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
