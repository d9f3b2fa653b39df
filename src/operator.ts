// The operator as one object: informers feed two keyed work queues (grants, pods), the
// deadline timer (src/revocation/) wakes grants at expiry, and start() revokes whatever is
// already overdue before doing anything else. startRevoking() alone is a standby replica: it
// only deletes RoleBindings at their deadlines. main.ts adds configuration, probes and signals.
import type { DebugGrantHistory, DebugGrantIndex } from './api/grant-index.ts';
import type { DebugGrant } from './api/types.ts';
import { PHASES } from './api/types.ts';
import type { OperatorConfig } from './config.ts';
import { AccessLedger } from './controller/access-ledger.ts';
import { FreshGrants } from './controller/fresh-grants.ts';
import { GrantReconciler } from './controller/grant-reconciler.ts';
import { IndexPresence } from './controller/index-presence.ts';
import { IndexWriter } from './controller/index-writer.ts';
import { LingeringReconciler } from './controller/lingering/lingering-reconciler.ts';
import { PodSessionReconciler } from './controller/pod-sessions.ts';
import { objectKey } from './runtime/object-key.ts';
import { ms } from './config.ts';
import { activeStatusDeadline, IndexEntryChanges, mayLinger, owningGrant, WatchedGrants } from './controller/event-mappers.ts';
import type { KubeApi } from './kube/client.ts';
import type { CachedPod, CachedRole, CachedRoleBinding, CachedTimer } from './kube/cached.ts';
import { eventRecorder } from './kube/events.ts';
import { instrumentApi } from './kube/instrument.ts';
import { grantSource, historySource, indexSource, podSource, readPod, roleBindingSource, roleSource, timerSource } from './kube/informers.ts';
import { PodCache, PodDetails } from './kube/pod-details.ts';
import type { Logger } from './log.ts';
import { makeMetrics, type Metrics } from './metrics.ts';
import { deletesFirst, DeadlineFastPath, DeadlineTimer, finishOverdue, keysDueBy, revokeWithoutPods, startupWork, type SweepActions } from './revocation/index.ts';
import { systemClock, type Clock } from './runtime/clock.ts';
import { KeyedLock } from './runtime/keyed-lock.ts';
import { apiMessage, describeError, isPermanent } from './runtime/errors.ts';
import { ResilientInformer, type CachedObject, type ListWatchSource } from './runtime/informer.ts';
import { WorkQueue } from './runtime/work-queue.ts';

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
}

/** A request the API server refused outright is tried again after this long. */
const PERMANENT_RETRY_MS = 5 * 60_000;
/** A grant still on record as active this long after its deadline counts as overdue (the gauge). */
const OVERDUE_AFTER_MS = 5000;

/** A cache that merges one informer per watched namespace (or one for all). */
class MultiCache<T extends CachedObject> {
  readonly informers: ResilientInformer<T>[];
  constructor(informers: ResilientInformer<T>[]) {
    this.informers = informers;
  }
  get(name: string, namespace?: string): T | undefined {
    for (const i of this.informers) {
      const found = i.get(name, namespace);
      if (found) return found;
    }
    return undefined;
  }
  list(namespace?: string): readonly T[] {
    return this.informers.length === 1 ? (this.informers[0]?.list(namespace) ?? []) : this.informers.flatMap((i) => i.list(namespace));
  }
}

export class Operator {
  readonly metrics: Metrics;
  private readonly opts: OperatorOptions;
  private readonly clock: Clock;
  private readonly grants: MultiCache<DebugGrant>;
  /** Pods as metadata (podSource); `pods` adds the whole pod where its spec changed (src/kube/pod-details.ts). */
  private readonly podInformers: MultiCache<CachedPod>;
  private readonly podDetails: PodDetails;
  private readonly pods: PodCache;
  private readonly roles: MultiCache<CachedRole>;
  private readonly bindings: MultiCache<CachedRoleBinding>;
  private readonly indexes: MultiCache<DebugGrantIndex>;
  /** The second copy of each namespace's spent names, in the operator's own namespace. */
  private readonly histories: MultiCache<DebugGrantHistory>;
  private readonly index: IndexWriter;
  private readonly timers: MultiCache<CachedTimer>;
  /** What pod events need of each grant: its phase, pods and parsed selector. */
  private readonly watchedGrants = new WatchedGrants();
  private readonly grantQueue: WorkQueue;
  private readonly podQueue: WorkQueue;
  private readonly deadlines: DeadlineTimer;
  private readonly fastPath: DeadlineFastPath;
  private readonly grantReconciler: GrantReconciler;
  private readonly freshGrants: FreshGrants;
  private readonly indexPresence: IndexPresence;
  private started = false;
  /** stop() was called: a start() still waiting for its caches goes no further. */
  private stopping = false;
  private revoking: Promise<void> | undefined;
  private revokingReady = false;
  /** The leader's start() is under way (revoking what is overdue before anything else). */
  private leaderStarting = false;
  private resyncTimer: (() => void) | undefined;

  constructor(opts: OperatorOptions) {
    this.opts = opts;
    const { config, log } = opts;
    const clock = opts.clock ?? systemClock;
    this.clock = clock;
    this.metrics = makeMetrics(() => this.countByPhase(), () => this.countOverdue(), opts.processMetrics ?? true);
    // Watches are long-lived streams, not requests: they stay on the raw client.
    const measured = { ...instrumentApi(opts.api, this.metrics.apiRequestDuration), watch: opts.api.watch };
    const { api, urgentApi, apiUntil } = deletesFirst(measured, clock);
    const namespaces: (string | undefined)[] = config.namespaces.length > 0 ? config.namespaces : [undefined];
    const informers = <T extends CachedObject>(name: string, make: (ns?: string) => ListWatchSource<T>, on: (o: T, ev: 'add' | 'update' | 'delete') => void) =>
      new MultiCache(namespaces.map((ns) => new ResilientInformer<T>(`${name}${ns ? `@${ns}` : ''}`, make(ns), clock, log, on, () => { this.resyncAll(); })));

    this.grants = informers('debuggrants', (ns) => grantSource(api, ns), (g, event) => {
      const namespace = g.metadata.namespace ?? '';
      const key = objectKey(namespace, g.metadata.name ?? '');
      this.freshGrants.observed(key, g);
      // Armed from what is persisted, whenever it is seen (after a restart, before any reconcile).
      const deadline = activeStatusDeadline(g, event);
      if (deadline !== undefined) this.deadlines.set(key, deadline);
      this.grantQueue.add(key);
      for (const pod of this.watchedGrants.observe(g, event)) this.podQueue.add(objectKey(namespace, pod));
    });
    this.podDetails = new PodDetails({
      clock, read: (ns, name) => readPod(api, ns, name), changed: (p) => { this.podChanged(p); },
      failed: (key, err) => { log.warn({ key, err: apiMessage(err) }, 'could not read pod; retrying'); },
    });
    this.podInformers = informers('pods', (ns) => podSource(api, ns), (p, event) => {
      this.podDetails.observe(p, event);
      this.podChanged(this.podDetails.merged(p));
    });
    this.pods = new PodCache(this.podInformers, this.podDetails);
    const ownedChanged = (o: CachedRole | CachedRoleBinding | CachedTimer): void => {
      const grant = owningGrant(o);
      if (grant) this.grantQueue.add(objectKey(o.metadata?.namespace ?? '', grant));
    };
    this.roles = informers<CachedRole>('roles', (ns) => roleSource(api, ns), ownedChanged);
    this.bindings = informers<CachedRoleBinding>('rolebindings', (ns) => roleBindingSource(api, ns), ownedChanged);
    // A timer started (its deadline may need shortening), fired or went: its grant looks again.
    this.timers = informers<CachedTimer>('timers', (ns) => timerSource(api, ns), ownedChanged);
    const indexChanges = new IndexEntryChanges();
    this.indexes = informers('debuggrantindexes', (ns) => indexSource(api, ns), (i, event) => {
      const namespace = i.metadata.namespace ?? '';
      const { changed, activeChanged } = indexChanges.observe(namespace, i, event);
      for (const name of changed) this.grantQueue.add(objectKey(namespace, name));
      // An active entry's deadline is armed as soon as it is seen: it is written before any RBAC.
      for (const e of activeChanged) this.deadlines.set(objectKey(namespace, e.grant), Date.parse(e.expiresAt));
      if (event === 'delete') this.indexLost(namespace);
      this.restoreSpentNames(namespace);
    });
    const home = config.leaderElection.namespace;
    this.histories = new MultiCache([new ResilientInformer<DebugGrantHistory>(`debuggranthistories@${home}`, historySource(api, home), clock, log,
      (h) => { this.restoreSpentNames(h.metadata.name ?? ''); }, () => { this.resyncAll(); })]);

    this.indexPresence = new IndexPresence({ api, indexes: this.indexes, log });
    const events = eventRecorder(api, 'debuggrant-operator', () => new Date(clock.now()));
    const identity = opts.identity ?? 'debuggrant-operator';
    this.freshGrants = new FreshGrants(this.grants);
    const index = new IndexWriter({ api, indexes: this.indexes, retentionMs: ms(config.endedRetention), histories: this.histories, home, log });
    this.index = index;
    const ledger = new AccessLedger();
    const rbacLocks = new KeyedLock();
    // At a deadline the RoleBinding goes at once, in the urgent lane, ahead of the full
    // reconcile queued behind it: the rest of the expiry (status, index, verification,
    // Events) is in the normal lane, which waits while any revocation is pending.
    this.fastPath = new DeadlineFastPath({ urgentApi, clock, metrics: this.metrics, grants: this.freshGrants, index, bindings: this.bindings, rbacLocks, ledger });
    this.deadlines = new DeadlineTimer({ clock, log, revoke: (key) => this.fastPath.revoke(key), revoked: (key) => { this.grantQueue.add(key); } });
    this.grantReconciler = new GrantReconciler({
      api, urgentApi, apiUntil, config, clock, log, metrics: this.metrics, events, identity,
      grants: this.grants, pods: this.pods, roles: this.roles, bindings: this.bindings, timers: this.timers,
      fresh: this.freshGrants, index, ledger, fastPath: this.fastPath, rbacLocks,
      scheduleDeadline: (key, at) => { this.deadlines.set(key, at); },
      requeueAfter: (key, delay) => { this.grantQueue.addAfter(key, delay); },
    });
    const lingering = new LingeringReconciler({ api, clock, log, metrics: this.metrics, events, grants: this.grants, pods: this.pods, identity },
      (key, delay) => { this.podQueue.addAfter(key, delay); });
    const onError = (controller: string) => (key: string, err: unknown, attempt: number): void => {
      this.metrics.reconcileErrors.inc({ controller });
      const permanent = isPermanent(err);
      log.warn({ controller, key, attempt, permanent, err: describeError(err) }, permanent ? 'reconcile refused; retrying slowly' : 'reconcile failed; retrying with backoff');
      if (permanent && controller === 'grant') void this.grantReconciler.reportFailure(key, err);
    };
    // Temporary errors: the queue's capped, jittered backoff. Permanent ones: minutes, not a hammer.
    const retryDelay = (err: unknown): number | undefined => isPermanent(err) ? PERMANENT_RETRY_MS : undefined;
    const timed = (controller: string, fn: (key: string) => Promise<void>) => async (key: string): Promise<void> => {
      const end = this.metrics.reconcileDuration.startTimer({ controller });
      try { await fn(key); } finally { end(); }
    };
    this.grantQueue = new WorkQueue(timed('grant', (k) => this.grantReconciler.reconcile(k)), { workers: config.workers, clock, onError: onError('grant'), retryDelay });
    const podSessions = new PodSessionReconciler({ api, clock, log, metrics: this.metrics, events, grants: this.grants, pods: this.pods, identity });
    this.podQueue = new WorkQueue(timed('pod', async (k) => { await lingering.reconcile(k); await podSessions.reconcile(k); }), { workers: 1, clock, onError: onError('pod'), retryDelay });
  }

  /**
   * What every replica does, leader or standby: watch grants, their index entries and the
   * RoleBindings, keep each recorded deadline armed, and at a deadline delete the
   * RoleBinding (idempotent, so two replicas doing it is harmless). A leader crash near a
   * deadline so costs no lease duration. Reconciles (activation, status) wait for start().
   */
  startRevoking(): Promise<void> {
    this.revoking ??= (async () => {
      this.grantQueue.pause(true);
      this.podQueue.pause(true);
      const listing = this.clock.now();
      await Promise.all(this.informersOf(this.revokerCaches()).map((i) => i.start()));
      this.revokingReady = true;
      // How long a restart leaves deadlines unwatched, after the process itself started.
      this.opts.log.info({ ms: this.clock.now() - listing }, 'grants, index entries and RoleBindings listed; deadlines armed');
    })();
    return this.revoking;
  }

  /** The leader's part: everything else, after whatever is already overdue has been revoked. */
  async start(): Promise<void> {
    await this.startRevoking();
    this.leaderStarting = true;
    // Before anything else: take away every access whose deadline passed while we were away
    // (src/revocation/startup-sweep.ts), the RoleBindings first, before the pods are listed.
    const startedAt = this.clock.now();
    const work = startupWork(this.indexes.list(), this.grants.list(), this.bindings.list(), startedAt);
    const act: SweepActions = {
      revoke: (key) => this.fastPath.revoke(key),
      reconcile: (key) => this.grantReconciler.reconcile(key),
      failed: (key, err) => {
        this.grantQueue.add(key);
        this.opts.log.warn({ key, err: apiMessage(err) }, 'revocation at start failed; retrying');
      },
    };
    if (work.overdue.size + work.orphaned.size > 0) {
      await revokeWithoutPods(work, act);
      this.opts.log.info({ overdue: work.overdue.size, orphaned: work.orphaned.size, ms: this.clock.now() - startedAt }, 'revoked the RoleBindings of grants that expired or went while the operator was down; listing pods next');
    }
    // The histories too: a grant is planned against both copies of its namespace's spent names.
    await Promise.all(this.informersOf([this.podInformers, this.roles, this.timers, this.histories] as MultiCache<CachedObject>[]).map((i) => i.start()));
    await this.podDetails.settled();
    if (this.stopping) return;
    await finishOverdue(work, act);
    this.grantQueue.pause(false);
    this.podQueue.pause(false);
    for (const ns of new Set([...this.opts.config.namespaces, ...this.pods.list().map((p) => p.metadata?.namespace ?? '')])) this.indexPresence.ensure(ns);
    this.started = true;
    this.resyncAll();
    this.scheduleResync();
  }

  /** The leader: all caches synced and watching. A standby: those it revokes from. */
  get ready(): boolean {
    return this.notReady.length === 0;
  }

  /** Why the operator is not ready (for /readyz): each informer that is down and why. */
  get notReady(): string[] {
    const reasons = this.informersOf(this.started || this.leaderStarting ? this.allCaches() : this.revokerCaches()).flatMap((i) => i.notReadyReason ?? []);
    if (reasons.length > 0) return reasons;
    if (!this.revokingReady) return ['starting: syncing caches'];
    return this.leaderStarting && !this.started ? ['starting: revoking overdue grants'] : [];
  }

  private revokerCaches(): MultiCache<CachedObject>[] {
    return [this.grants, this.indexes, this.bindings] as MultiCache<CachedObject>[];
  }

  private allCaches(): MultiCache<CachedObject>[] {
    return [this.grants, this.podInformers, this.roles, this.bindings, this.indexes, this.timers, this.histories] as MultiCache<CachedObject>[];
  }

  private informersOf(caches: MultiCache<CachedObject>[]): ResilientInformer<CachedObject>[] {
    return caches.flatMap((c) => c.informers);
  }

  /** Graceful: nothing new starts, work in flight finishes (so the Lease is released only after it). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.started = false;
    this.resyncTimer?.();
    const revocations = this.deadlines.stop();
    this.grantQueue.stop();
    this.podQueue.stop();
    await Promise.all([this.grantQueue.idle(), this.podQueue.idle(), revocations]);
    await Promise.all(this.informersOf(this.allCaches()).map((i) => i.stop()));
  }

  private scheduleResync(): void {
    const period = this.opts.resyncPeriodMs ?? 10 * 60_000;
    this.resyncTimer = this.clock.setTimer(() => { this.resyncAll(); this.scheduleResync(); }, period);
  }

  private resyncAll(): void {
    for (const g of this.grants.list()) this.grantQueue.add(objectKey(g.metadata.namespace ?? '', g.metadata.name ?? ''));
    const recorded = [...this.indexes.list().map((i) => i.metadata.namespace), ...this.histories.list().map((h) => h.metadata.name)];
    for (const ns of new Set(recorded)) this.restoreSpentNames(ns ?? '');
    for (const p of this.pods.list()) {
      if (mayLinger(p)) this.podQueue.add(objectKey(p.metadata?.namespace ?? '', p.metadata?.name ?? ''));
    }
  }

  /** Work proportional to what changed: the grants of the pod's namespace, selectors parsed once per grant event. */
  private podChanged(pod: CachedPod): void {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    if (mayLinger(pod)) this.podQueue.add(objectKey(namespace, name));
    if (this.started) this.indexPresence.ensure(namespace);
    for (const grant of this.watchedGrants.concerning(namespace, name, pod.metadata?.labels)) this.grantQueue.add(objectKey(namespace, grant));
  }

  /** A namespace still served (configured, or with pods) gets its empty index back; a deleted namespace does not. */
  private indexLost(namespace: string): void {
    this.indexPresence.forget(namespace);
    if (this.started && (this.opts.config.namespaces.includes(namespace) || this.pods.list(namespace).length > 0)) this.indexPresence.ensure(namespace);
  }

  /** Each copy of a namespace's spent names restored from the other (the leader's work, once started). */
  private restoreSpentNames(namespace: string): void {
    const served = this.opts.config.namespaces.length === 0 || this.opts.config.namespaces.includes(namespace);
    if (this.started && namespace !== '' && served) void this.index.restore(namespace, new Date(this.clock.now()));
  }

  private countOverdue(): number {
    return keysDueBy(this.indexes.list(), this.grants.list(), this.clock.now() - OVERDUE_AFTER_MS).size;
  }

  private countByPhase(): Record<string, number> {
    const counts: Record<string, number> = Object.fromEntries(PHASES.map((p) => [p, 0]));
    for (const g of this.grants.list()) {
      const phase = g.status?.phase ?? 'Pending';
      counts[phase] = (counts[phase] ?? 0) + 1;
    }
    return counts;
  }
}
