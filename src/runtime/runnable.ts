// Something the manager starts: controller-runtime's Runnable with its LeaderElectionRunnable.
// What must run on every replica (revocation) says so; everything else waits for the lease.
export interface Runnable {
  readonly name: string;
  /** False: runs on every replica, leader or standby. True: only on the leader. */
  readonly needLeaderElection: boolean;
  /** Resolves once running (its caches synced, its first work done); idempotent. */
  start(): Promise<void>;
  /** Why it is not ready (empty when it is): for /readyz. */
  notReady(): string[];
}
