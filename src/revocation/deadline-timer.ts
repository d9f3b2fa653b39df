// Every recorded deadline armed in one heap (deadline-queue.ts); when one is due, the fast
// path deletes the grant's RoleBinding, and the grant is handed on for its full reconcile.
// A failed revocation is tried again on its own short schedule (REVOCATION_RETRY_MAX_MS apart
// at most), on every replica: the reconcile's backoff grows to 30 s, and after an outage
// access must end within a moment of the API server answering again.
import type { Logger } from '../log.ts';
import { retryDelay } from '../runtime/backoff.ts';
import type { Clock } from '../runtime/clock.ts';
import { apiMessage } from '../runtime/errors.ts';
import { DeadlineQueue } from './deadline-queue.ts';

/** A failing deadline revocation is tried again at least this often. */
export const REVOCATION_RETRY_MAX_MS = 1000;
const REVOCATION_RETRY_BASE_MS = 100;

export interface DeadlineTimerDeps {
  clock: Clock;
  log: Logger;
  /** The fast path (fast-path.ts). */
  revoke(key: string): Promise<void>;
}

export class DeadlineTimer {
  private readonly d: DeadlineTimerDeps;
  private readonly queue: DeadlineQueue;
  private readonly failures = new Map<string, number>();
  /** Revocations in flight (each with its grant's key), drained by stop(). */
  private readonly inFlight = new Map<Promise<void>, string>();
  private readonly attempted: ((key: string) => void)[] = [];

  constructor(deps: DeadlineTimerDeps) {
    this.d = deps;
    this.queue = new DeadlineQueue(deps.clock, (key) => {
      this.due(key);
    });
  }

  /** Called after each revocation attempt, success or not (the grant's full reconcile follows). */
  onAttempted(handler: (key: string) => void): void {
    this.attempted.push(handler);
  }

  /** Arms (or moves) the deadline of `key`; undefined disarms it. */
  set(key: string, at: number | undefined): void {
    if (at === undefined) this.queue.cancel(key);
    else this.queue.schedule(key, at);
  }

  get size(): number {
    return this.queue.size;
  }

  /** Nothing new fires; resolves once the revocations in flight have finished. */
  async stop(): Promise<void> {
    this.queue.stop();
    await Promise.all(this.inFlight.keys());
  }

  /** The grants whose revocation is in flight now. */
  get revoking(): string[] {
    return [...this.inFlight.values()];
  }

  private due(key: string): void {
    const revocation = this.d
      .revoke(key)
      .then(
        () => {
          this.failures.delete(key);
        },
        (err: unknown) => {
          const attempt = (this.failures.get(key) ?? 0) + 1;
          this.failures.set(key, attempt);
          const retryInMs = retryDelay(err, attempt, { baseMs: REVOCATION_RETRY_BASE_MS, maxMs: REVOCATION_RETRY_MAX_MS });
          this.d.log.warn({ key, attempt, retryInMs, err: apiMessage(err) }, 'deadline revocation failed; retrying');
          this.queue.schedule(key, this.d.clock.now() + retryInMs);
        },
      )
      .finally(() => {
        this.inFlight.delete(revocation);
        for (const h of this.attempted) h(key);
      });
    this.inFlight.set(revocation, key);
  }
}
