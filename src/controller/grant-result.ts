// What a grant's reconcile says happens next (controller-runtime's Result{RequeueAfter} and
// its error, plus the grant's deadline). The grant controller acts on it in one place.
export interface GrantResult {
  /** Reconcile again after this long (ms): verification or an eviction to try again. */
  requeueAfter?: number;
  /** The deadline to arm (a time, ms since the epoch), or to disarm (null); absent: as it is. */
  deadline?: number | null;
  /** The reconcile failed: retried with the queue's backoff (a permanent error: slowly). */
  error?: Error;
}

/** The sooner of two delays, either of which may be absent. */
export function soonest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
