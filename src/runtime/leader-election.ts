// Lease-based leader election, as client-go's leaderelection does it: a candidate takes the
// Lease when its holder has not renewed it for leaseDuration *as observed locally* (so
// clock skew between replicas does not matter), the leader renews every retryPeriod and
// gives up if it cannot renew within renewDeadline; a graceful stop releases the Lease so
// the standby takes over at once instead of waiting for it to lapse.
//
// The renew deadline is kept by a timer, not by the next renewal's answer: a renewal that
// hangs (its request queued in a saturated API server) must not keep this replica leading
// past it, while a standby that saw no renewal for leaseDuration takes over. Each renewal's
// requests are bounded by it (not sent after it, aborted at it). The leader renews with one
// request, a replace of the Lease it last wrote (client-go's optimistic fast path), and reads
// the Lease first only when that conflicts: under load every request is a wait in a queue.
// Tries are due a retry period after the previous one started, not after its answer.
import type { LeaseRecord, LeaseStore } from '../kube/lease.ts';
import type { Logger } from '../log.ts';
import type { Clock } from './clock.ts';
import { httpStatus } from './errors.ts';

export interface ElectionOptions {
  store: LeaseStore;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  clock: Clock;
  log: Logger;
}

export interface ElectionCallbacks {
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

export class LeaderElector {
  private readonly o: ElectionOptions;
  private observed: LeaseRecord | undefined;
  private observedAt = 0;
  private lastRenew = 0;
  private leading = false;
  private stopped = false;
  private cancel: (() => void) | undefined;
  private cancelRenewDeadline: (() => void) | undefined;
  private callbacks: ElectionCallbacks | undefined;

  constructor(options: ElectionOptions) {
    this.o = options;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The Lease's holder as last read ('' when released; undefined before the first read). */
  get observedHolder(): string | undefined {
    return this.observed?.holder;
  }

  run(callbacks: ElectionCallbacks): void {
    this.callbacks = callbacks;
    void this.tick();
  }

  /** Stops competing; releases the Lease when `release` and we hold it. */
  async stop(release: boolean): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    this.cancelRenewDeadline?.();
    if (release && this.leading && this.observed) {
      const now = this.o.clock.now();
      try {
        // An empty holder with a 1 s duration: the standby may take it on its next try.
        await this.o.store.write({ ...this.observed, holder: '', leaseDurationSeconds: 1, renewTime: now });
      } catch (err) {
        this.o.log.warn({ err }, 'could not release the leader lease');
      }
    }
    this.leading = false;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const now = this.o.clock.now();
    let acquired = false;
    try {
      acquired = await this.tryAcquireOrRenew(now);
    } catch (err) {
      this.o.log.debug({ err, tookMs: this.o.clock.now() - now }, 'lease update failed');
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() or the renew deadline may have come while we awaited
    if (this.stopped) return;
    // Taken (or renewed) at `now`: this replica may lead until now + renewDeadline, unless that
    // has already passed (an acquisition whose answer came that late).
    if (acquired && this.o.clock.now() < now + this.o.renewDeadlineMs) {
      this.lastRenew = now;
      this.armRenewDeadline();
      if (!this.leading) {
        this.leading = true;
        this.o.log.info({ identity: this.o.identity }, 'became leader');
        this.callbacks?.onStartedLeading();
      }
    }
    // The next try is due a retry period after this one started, not after it was answered
    // (client-go waits a whole period after the answer): the renew deadline counts from the
    // start of the last renewal, so under an overloaded API server, where a renewal waits
    // seconds in its priority level's queue, two such waits plus a period passed it and the
    // leader had to stop (docs/benchmark.md, overload). At least a quarter of the period lies
    // between two tries, so a slow server is not sent one renewal after another.
    const took = this.o.clock.now() - now;
    this.cancel = this.o.clock.setTimer(
      () => {
        void this.tick();
      },
      Math.max(this.o.retryPeriodMs - took, this.o.retryPeriodMs / 4),
    );
  }

  /** Leadership ends at lastRenew + renewDeadline unless a renewal comes first, whatever is in flight then. */
  private armRenewDeadline(): void {
    this.cancelRenewDeadline?.();
    this.cancelRenewDeadline = this.o.clock.setTimer(
      () => {
        if (!this.leading || this.stopped) return;
        this.leading = false;
        this.stopped = true;
        this.cancel?.();
        this.o.log.error(
          { identity: this.o.identity, renewDeadlineMs: this.o.renewDeadlineMs },
          'lost the leader lease: not renewed within its renew deadline',
        );
        this.callbacks?.onStoppedLeading();
      },
      this.lastRenew + this.o.renewDeadlineMs - this.o.clock.now(),
    );
  }

  private async tryAcquireOrRenew(now: number): Promise<boolean> {
    const durationSeconds = Math.ceil(this.o.leaseDurationMs / 1000);
    // The leader's requests are worth nothing after its renew deadline; a candidate's have the request timeout.
    const until = this.leading ? this.lastRenew + this.o.renewDeadlineMs : undefined;
    if (this.leading && this.observed) {
      try {
        this.record(await this.o.store.write({ ...this.observed, renewTime: now, leaseDurationSeconds: durationSeconds }, until), now);
        return true;
      } catch (err) {
        // Someone else wrote it (or it is gone): read it, as a candidate does. Anything else
        // (no answer, 429, 5xx): the next try, within the renew deadline.
        const status = httpStatus(err);
        if (status !== 409 && status !== 404) throw err;
      }
    }
    const current = await this.o.store.get(until);
    if (!current) {
      this.record(
        await this.o.store.write({ holder: this.o.identity, acquireTime: now, renewTime: now, leaseDurationSeconds: durationSeconds, transitions: 0 }, until),
        now,
      );
      return true;
    }
    if (!this.observed || this.observed.renewTime !== current.renewTime || this.observed.holder !== current.holder) this.record(current, now);
    const mine = current.holder === this.o.identity;
    const lapsed = current.holder === '' || this.observedAt + current.leaseDurationSeconds * 1000 <= now;
    if (!mine && !lapsed) return false;
    const next: LeaseRecord = {
      ...current,
      holder: this.o.identity,
      renewTime: now,
      leaseDurationSeconds: durationSeconds,
      acquireTime: mine ? current.acquireTime : now,
      transitions: mine ? current.transitions : current.transitions + 1,
    };
    this.record(await this.o.store.write(next, until), now);
    return true;
  }

  private record(r: LeaseRecord, now: number): void {
    this.observed = r;
    this.observedAt = now;
  }
}
