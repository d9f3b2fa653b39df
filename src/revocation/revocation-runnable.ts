// What every replica runs, leader or standby (needLeaderElection: false): the caches that hold
// every recorded deadline (grants, index entries) and what to delete at it (RoleBindings).
// Their events arm the deadline timer; the timer's fast path deletes RoleBindings. Deleting
// one twice is harmless, so a leader crash near a deadline costs no lease duration.
import type { Logger } from '../log.ts';
import type { Clock } from '../runtime/clock.ts';
import type { CachedObject } from '../runtime/informer.ts';
import type { MultiCache } from '../runtime/multi-cache.ts';
import type { Runnable } from '../runtime/runnable.ts';

export class RevocationRunnable implements Runnable {
  readonly name = 'revocation';
  readonly needLeaderElection = false;
  private readonly caches: MultiCache<CachedObject>[];
  private readonly clock: Clock;
  private readonly log: Logger;
  private starting: Promise<void> | undefined;
  private synced = false;

  constructor(caches: MultiCache<CachedObject>[], clock: Clock, log: Logger) {
    this.caches = caches;
    this.clock = clock;
    this.log = log;
  }

  start(): Promise<void> {
    this.starting ??= (async () => {
      const listing = this.clock.now();
      await Promise.all(this.caches.map((c) => c.start()));
      this.synced = true;
      // How long a restart leaves deadlines unwatched, after the process itself started.
      this.log.info({ ms: this.clock.now() - listing }, 'grants, index entries and RoleBindings listed; deadlines armed');
    })();
    return this.starting;
  }

  notReady(): string[] {
    const reasons = this.caches.flatMap((c) => c.notReady());
    if (reasons.length > 0) return reasons;
    return this.synced ? [] : ['starting: syncing caches'];
  }
}
