// The operator: caches of what it observes, the revocation module (src/revocation/) and the
// grant and pod controllers, built in dependency order; then event handlers say what each
// observed change enqueues or arms. It runs as two runnables: revocation on every replica,
// the controllers on the leader only (manager.ts). main.ts adds configuration, probes, signals.
import { PHASES } from './api/types.ts';
import type { OperatorConfig } from './config.ts';
import { Caches } from './controller/caches.ts';
import { EventSender } from './controller/event-sender.ts';
import { FinishedPodSweep } from './controller/finished-pods.ts';
import { activeStatusDeadline, IndexEntryChanges, mayLinger, owningGrant, WatchedGrants } from './controller/event-mappers.ts';
import type { FreshGrants } from './controller/fresh-grants.ts';
import { GrantController } from './controller/grant-controller.ts';
import { buildGrantParts } from './controller/grant-parts.ts';
import { IndexPresence } from './controller/index-presence.ts';
import { LeaderRunnable } from './controller/leader-runnable.ts';
import { LingeringReconciler } from './controller/lingering/lingering-reconciler.ts';
import { PodSessionReconciler } from './controller/pod-sessions.ts';
import { controllerQueue } from './controller/queues.ts';
import type { CachedPod, CachedRole, CachedRoleBinding, CachedTimer } from './kube/cached.ts';
import type { KubeApi } from './kube/client.ts';
import { eventRecorder } from './kube/events.ts';
import { eachFinishedPodPage } from './kube/pods.ts';
import { instrumentApi } from './kube/instrument.ts';
import type { Logger } from './log.ts';
import { makeMetrics, type Metrics } from './metrics.ts';
import { DeadlineTimer, deletesFirst, keysDueBy, RevocationRunnable } from './revocation/index.ts';
import { settlesWithin, systemClock, type Clock } from './runtime/clock.ts';
import { objectKey, splitKey } from './runtime/object-key.ts';
import type { Runnable } from './runtime/runnable.ts';
import type { WorkQueue } from './runtime/work-queue.ts';

export interface OperatorOptions {
  api: KubeApi;
  config: OperatorConfig;
  log: Logger;
  clock?: Clock;
  /** Who the operator acts as, for audit lines. */
  identity?: string;
  /** Register default process metrics (off when several operators share a test process). */
  processMetrics?: boolean;
  resyncPeriodMs?: number;
  /** How long stop() waits for work in flight before abandoning it (STOP_GRACE_MS). */
  stopGraceMs?: number;
}

/**
 * stop() waits this long for the reconciles, revocations and Events in flight, then abandons
 * them with a log line: one that never settles must not keep the process (and, under leader
 * election, the Lease and so every replica's activations and revocations) from going. Each
 * request ends within its own timeout (10 s by default); main.ts exits 20 s after a signal.
 */
export const STOP_GRACE_MS = 10_000;

/** A grant still on record as active this long after its deadline counts as overdue (the gauge). */
const OVERDUE_AFTER_MS = 5000;

export class Operator {
  readonly metrics: Metrics;
  /** Revocation on every replica, then the controllers on the leader: the manager starts them. */
  readonly runnables: readonly Runnable[];
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly stopGraceMs: number;
  private readonly caches: Caches;
  private readonly deadlines: DeadlineTimer;
  private readonly grants: GrantController;
  private readonly pods: WorkQueue;
  private readonly events: EventSender;
  private readonly leader: LeaderRunnable;

  constructor(opts: OperatorOptions) {
    const { config, log } = opts;
    const clock = opts.clock ?? systemClock;
    this.clock = clock;
    this.log = log;
    this.stopGraceMs = opts.stopGraceMs ?? STOP_GRACE_MS;
    this.metrics = makeMetrics(
      () => this.countByPhase(),
      () => this.countOverdue(),
      opts.processMetrics ?? true,
    );
    const metrics = this.metrics;
    // Watches are long-lived streams, not requests: they stay on the raw client.
    const measured = instrumentApi(opts.api, metrics.apiRequestDuration);
    // One set of lanes for every request: deletes first (src/revocation/lanes.ts).
    const lanes = deletesFirst(measured, clock);
    const { api } = lanes;
    const caches = new Caches(api, config.namespaces, config.leaderElection.namespace, clock, log);
    this.caches = caches;
    const identity = opts.identity ?? 'debuggrant-operator';
    this.events = new EventSender(
      eventRecorder(api, 'debuggrant-operator', () => new Date(clock.now())),
      log,
    );

    const { reconciler, fastPath, fresh, index } = buildGrantParts({ lanes, caches, config, clock, log, metrics, events: this.events, identity });
    this.deadlines = new DeadlineTimer({ clock, log, revoke: (key) => fastPath.revoke(key) });
    const queues = { clock, log, metrics };
    this.grants = new GrantController(reconciler, this.deadlines, config.workers, queues);
    const lingering = new LingeringReconciler({ api, clock, log, metrics, events: this.events, grants: caches.grants, identity });
    const podSessions = new PodSessionReconciler({ api, clock, log, metrics, events: this.events, grants: caches.grants, identity });
    // A pod's lingering flag, then its sessions outside any grant; the result acted on here, as
    // the grants' in GrantController: a requeue when asked.
    this.pods = controllerQueue('pod', 1, queues, async (key) => {
      const { namespace, name } = splitKey(key);
      const pod = await caches.podNow(namespace, name);
      const { requeueAfter } = await lingering.reconcile(key, pod);
      await podSessions.reconcile(key, pod);
      if (requeueAfter !== undefined) this.pods.addAfter(key, requeueAfter);
    });
    // Keys collect while paused; the leader releases the queues once overdue grants are revoked.
    this.grants.queue.pause(true);
    this.pods.pause(true);

    const indexPresence = new IndexPresence({ api, indexes: caches.indexes, log });
    const revocation = new RevocationRunnable(caches.forRevocation, clock, log);
    this.leader = new LeaderRunnable({
      clock,
      log,
      caches,
      revocation,
      fastPath,
      grants: this.grants,
      pods: this.pods,
      finishedPods: new FinishedPodSweep({
        pages: (ns, each) => eachFinishedPodPage(api, ns, each),
        enqueue: (key) => {
          this.pods.add(key);
        },
        namespaces: config.namespaces,
      }),
      indexPresence,
      index,
      namespaces: config.namespaces,
      resyncPeriodMs: opts.resyncPeriodMs,
    });
    this.runnables = [revocation, this.leader];
    this.handleEvents(fresh, indexPresence, config.namespaces);
  }

  /** What each observed change enqueues or arms (the mappings are event-mappers.ts). */
  private handleEvents(fresh: FreshGrants, indexPresence: IndexPresence, namespaces: readonly string[]): void {
    const { caches, deadlines, grants, pods, leader } = this;
    const watchedGrants = new WatchedGrants();
    caches.grants.onEvent((g, event) => {
      const namespace = g.metadata.namespace ?? '';
      const key = objectKey(namespace, g.metadata.name ?? '');
      fresh.observed(key, g);
      // Armed from what is persisted, whenever it is seen (after a restart, before any reconcile).
      const deadline = activeStatusDeadline(g, event);
      if (deadline !== undefined) deadlines.set(key, deadline);
      grants.queue.add(key);
      for (const pod of watchedGrants.observe(g, event)) pods.add(objectKey(namespace, pod));
    });
    // Work proportional to what changed: the grants of the pod's namespace, selectors parsed once per grant event.
    caches.onPod((p: CachedPod) => {
      const namespace = p.metadata?.namespace ?? '';
      const name = p.metadata?.name ?? '';
      if (mayLinger(p)) pods.add(objectKey(namespace, name));
      if (leader.running) indexPresence.ensure(namespace);
      for (const grant of watchedGrants.concerning(namespace, name, p.metadata?.labels)) grants.queue.add(objectKey(namespace, grant));
    });
    const ownedChanged = (o: CachedRole | CachedRoleBinding | CachedTimer): void => {
      const grant = owningGrant(o);
      if (grant) grants.queue.add(objectKey(o.metadata?.namespace ?? '', grant));
    };
    caches.roles.onEvent(ownedChanged);
    caches.bindings.onEvent(ownedChanged);
    // A timer started (its deadline may need shortening), fired or went: its grant looks again.
    caches.timers.onEvent(ownedChanged);
    const indexChanges = new IndexEntryChanges();
    caches.indexes.onEvent((i, event) => {
      const namespace = i.metadata.namespace ?? '';
      const { changed, activeChanged } = indexChanges.observe(namespace, i, event);
      for (const name of changed) grants.queue.add(objectKey(namespace, name));
      // An active entry's deadline is armed as soon as it is seen: it is written before any RBAC.
      for (const e of activeChanged) deadlines.set(objectKey(namespace, e.grant), Date.parse(e.expiresAt));
      if (event === 'delete') {
        // A namespace still served (configured, or with pods) gets its empty index back; a deleted namespace does not.
        indexPresence.forget(namespace);
        if (leader.running && (namespaces.includes(namespace) || caches.pods.list(namespace).length > 0)) indexPresence.ensure(namespace);
      }
      leader.restoreSpentNames(namespace);
    });
    caches.histories.onEvent((h) => {
      leader.restoreSpentNames(h.metadata.name ?? '');
    });
    for (const c of caches.all)
      c.onRelist(() => {
        leader.resync();
      });
    // After each deadline's fast path, success or not: the rest of the expiry.
    deadlines.onAttempted((key) => {
      grants.queue.add(key);
    });
  }

  /** Everything, as a single replica without leader election does (and the tests). */
  async start(): Promise<void> {
    for (const r of this.runnables) await r.start();
  }

  /** The leader: all caches synced and watching. A standby: those it revokes from. */
  get ready(): boolean {
    return this.notReady.length === 0;
  }

  /** Why the operator is not ready (for /readyz): each informer that is down and why, or what start-up is doing. */
  get notReady(): string[] {
    return this.runnables.flatMap((r) => r.notReady());
  }

  /**
   * Graceful: nothing new starts, work in flight finishes (so the Lease is released only after
   * it), for up to stopGraceMs; what is still in flight then is abandoned and named in the log.
   */
  async stop(): Promise<void> {
    this.leader.stop();
    const revocations = this.deadlines.stop();
    this.grants.queue.stop();
    this.pods.stop();
    const inFlight = Promise.all([this.grants.queue.idle(), this.pods.idle(), revocations]).then(() => this.events.idle());
    if (!(await settlesWithin(this.clock, this.stopGraceMs, inFlight))) {
      this.log.error(
        {
          graceMs: this.stopGraceMs,
          grants: this.grants.queue.inProgress,
          pods: this.pods.inProgress,
          revocations: this.deadlines.revoking,
          events: this.events.pending,
        },
        'stopping with work still in flight after the grace period: abandoned (it never settled)',
      );
    }
    await Promise.all(this.caches.all.map((c) => c.stop()));
  }

  private countOverdue(): number {
    return keysDueBy(this.caches.indexes.list(), this.caches.grants.list(), this.clock.now() - OVERDUE_AFTER_MS).size;
  }

  private countByPhase(): Record<string, number> {
    const counts: Record<string, number> = Object.fromEntries(PHASES.map((p) => [p, 0]));
    for (const g of this.caches.grants.list()) {
      const phase = g.status?.phase ?? 'Pending';
      counts[phase] = (counts[phase] ?? 0) + 1;
    }
    return counts;
  }
}
