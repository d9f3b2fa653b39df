// What only the leader runs (needLeaderElection: true): first the start-up sweep (every access
// whose deadline passed while no operator ran goes before anything else), then pods and Roles
// are listed, the rest of those expiries done, and the work queues released; a periodic resync
// re-enqueues everything, and each served namespace gets its (empty) index. Finished pods that
// still carry the operator's records (finished-pods.ts) are swept at start and at each periodic
// resync.
import { finishOverdue, revokeWithoutPods, startupWork, type SweepActions } from '../revocation/startup-sweep.ts';
import type { DeadlineFastPath } from '../revocation/fast-path.ts';
import type { Logger } from '../log.ts';
import type { Clock } from '../runtime/clock.ts';
import { apiMessage } from '../runtime/errors.ts';
import { objectKey } from '../runtime/object-key.ts';
import type { Runnable } from '../runtime/runnable.ts';
import type { WorkQueue } from '../runtime/work-queue.ts';
import type { Caches } from './caches.ts';
import type { FinishedPodSweep } from './finished-pods.ts';
import { mayLinger } from './event-mappers.ts';
import type { GrantController } from './grant-controller.ts';
import type { IndexPresence } from './index-presence.ts';
import type { IndexWriter } from './index-writer.ts';

/** Everything is enqueued again this often (events can be missed; a resync mends that). */
const DEFAULT_RESYNC_MS = 10 * 60_000;

export interface LeaderDeps {
  clock: Clock;
  log: Logger;
  caches: Caches;
  /** Started first: the caches the sweep reads. */
  revocation: Runnable;
  fastPath: DeadlineFastPath;
  grants: GrantController;
  pods: WorkQueue;
  /** Finished pods with records to settle, which the pod informer never shows. */
  finishedPods: Pick<FinishedPodSweep, 'sweep'>;
  indexPresence: IndexPresence;
  /** The index's writer: each copy of a namespace's spent names is restored from the other. */
  index: IndexWriter;
  /** The namespaces configured (empty: all). */
  namespaces: readonly string[];
  resyncPeriodMs?: number;
}

export class LeaderRunnable implements Runnable {
  readonly name = 'controllers';
  readonly needLeaderElection = true;
  private readonly d: LeaderDeps;
  private starting: Promise<void> | undefined;
  private done = false;
  private stopped = false;
  private cancelResync: (() => void) | undefined;

  constructor(deps: LeaderDeps) {
    this.d = deps;
  }

  /** Started, and not stopped: pod events may create indexes. */
  get running(): boolean {
    return this.done && !this.stopped;
  }

  start(): Promise<void> {
    this.starting ??= this.run();
    return this.starting;
  }

  notReady(): string[] {
    if (!this.starting) return [];
    const reasons = this.d.caches.forLeader.flatMap((c) => c.notReady());
    if (reasons.length > 0 || this.done) return reasons;
    return ['starting: revoking overdue grants'];
  }

  stop(): void {
    this.stopped = true;
    this.cancelResync?.();
  }

  /** Every grant, and every pod that may have lingering containers, enqueued again; the spent names' copies repaired. */
  resync(): void {
    const { caches, grants, pods } = this.d;
    for (const g of caches.grants.list()) grants.queue.add(objectKey(g.metadata.namespace ?? '', g.metadata.name ?? ''));
    const recorded = [...caches.indexes.list().map((i) => i.metadata.namespace), ...caches.histories.list().map((h) => h.metadata.name)];
    for (const ns of new Set(recorded)) this.restoreSpentNames(ns ?? '');
    for (const p of caches.pods.list()) {
      if (mayLinger(p)) pods.add(objectKey(p.metadata?.namespace ?? '', p.metadata?.name ?? ''));
    }
  }

  /** Each copy of a namespace's spent names restored from the other (once started). */
  restoreSpentNames(namespace: string): void {
    const served = this.d.namespaces.length === 0 || this.d.namespaces.includes(namespace);
    if (this.running && namespace !== '' && served) void this.d.index.restore(namespace, new Date(this.d.clock.now()));
  }

  private async run(): Promise<void> {
    const { caches, clock, log } = this.d;
    await this.d.revocation.start();
    const startedAt = clock.now();
    const work = startupWork(caches.indexes.list(), caches.grants.list(), caches.bindings.list(), startedAt);
    const act: SweepActions = {
      revoke: (key) => this.d.fastPath.revoke(key),
      reconcile: (key) => this.d.grants.run(key),
      failed: (key, err) => {
        this.d.grants.queue.add(key);
        log.warn({ key, err: apiMessage(err) }, 'revocation at start failed; retrying');
      },
    };
    if (work.overdue.size + work.orphaned.size > 0) {
      await revokeWithoutPods(work, act);
      log.info(
        { overdue: work.overdue.size, orphaned: work.orphaned.size, ms: clock.now() - startedAt },
        'revoked the RoleBindings of grants that expired or went while the operator was down; listing pods next',
      );
    }
    await Promise.all(caches.forLeader.map((c) => c.start()));
    await caches.podDetails.settled();
    if (this.stopped) return;
    await finishOverdue(work, act);
    this.d.grants.queue.pause(false);
    this.d.pods.pause(false);
    for (const ns of new Set([...this.d.namespaces, ...caches.pods.list().map((p) => p.metadata?.namespace ?? '')])) this.d.indexPresence.ensure(ns);
    this.done = true;
    this.resync();
    this.sweepFinishedPods();
    this.scheduleResync();
  }

  /** At start and at the periodic resync only (not at each relist): a list of every finished pod is not cheap. */
  private scheduleResync(): void {
    this.cancelResync = this.d.clock.setTimer(() => {
      this.resync();
      this.sweepFinishedPods();
      this.scheduleResync();
    }, this.d.resyncPeriodMs ?? DEFAULT_RESYNC_MS);
  }

  /** A failed sweep is tried again at the next resync. */
  private sweepFinishedPods(): void {
    const { clock, log } = this.d;
    const startedAt = clock.now();
    void this.d.finishedPods.sweep().then(
      (pods) => {
        log.info({ pods, ms: clock.now() - startedAt }, 'finished pods swept for records to settle');
      },
      (err: unknown) => {
        log.warn({ err: apiMessage(err) }, 'could not list finished pods for records to settle; trying again at the next resync');
      },
    );
  }
}
