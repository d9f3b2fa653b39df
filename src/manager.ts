// Runs the operator's runnables under leader election when configured: every replica competes
// for the Lease and runs those that need no lease (revocation: due deadlines); only the leader
// runs the rest (reconciles: activates, writes status).
// Losing the Lease is fatal (the process exits and Kubernetes restarts it), as in
// controller-runtime: a replica that cannot prove it leads must stop acting at once.
import type { OperatorConfig } from './config.ts';
import { ms } from './config.ts';
import type { KubeApi } from './kube/client.ts';
import { leaseStore } from './kube/lease.ts';
import type { Logger } from './log.ts';
import { Operator } from './operator.ts';
import { systemClock, type Clock } from './runtime/clock.ts';
import { LeaderElector } from './runtime/leader-election.ts';
import type { Runnable } from './runtime/runnable.ts';

export interface ManagerOptions {
  api: KubeApi;
  config: OperatorConfig;
  log: Logger;
  identity: string;
  clock?: Clock;
  processMetrics?: boolean;
  /** Called when the manager can no longer safely act (lost leadership, failed start). */
  onFatal(reason: string): void;
}

export class Manager {
  readonly operator: Operator;
  private readonly elector: LeaderElector | undefined;
  private readonly opts: ManagerOptions;

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    const clock = opts.clock ?? systemClock;
    this.operator = new Operator({ api: opts.api, config: opts.config, log: opts.log, clock, identity: opts.identity, processMetrics: opts.processMetrics });
    const le = opts.config.leaderElection;
    if (le.enabled) {
      const lease = ms(le.leaseDuration);
      this.elector = new LeaderElector({
        store: leaseStore(opts.api, le.namespace, le.leaseName, clock),
        identity: opts.identity,
        clock,
        log: opts.log,
        leaseDurationMs: lease,
        renewDeadlineMs: Math.round((lease * 2) / 3),
        retryPeriodMs: Math.max(200, Math.round(lease / 7)),
      });
    }
  }

  /**
   * Runnables that need no lease (revocation) start at once on every replica; the others when
   * this replica leads. Without leader election, resolves once all run; with it, once the
   * election runs.
   */
  async start(): Promise<void> {
    if (!this.elector) {
      await this.operator.start();
      return;
    }
    const { runnables } = this.operator;
    const failed =
      (r: Runnable) =>
      (err: unknown): void => {
        this.opts.onFatal(`${r.name} failed to start: ${String(err)}`);
      };
    for (const r of runnables.filter((x) => !x.needLeaderElection)) r.start().catch(failed(r));
    this.elector.run({
      onStartedLeading: () => {
        for (const r of runnables.filter((x) => x.needLeaderElection)) r.start().catch(failed(r));
      },
      onStoppedLeading: () => {
        this.opts.onFatal('lost the leader lease');
      },
    });
    return Promise.resolve();
  }

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : true;
  }

  /** Who holds the Lease, as this replica last read it (itself without leader election). */
  get leader(): string | undefined {
    return this.elector ? this.elector.observedHolder : this.opts.identity;
  }

  /** Ready once the caches this replica acts on (all for the leader, the revoker's for a standby) are synced and watching. */
  get ready(): boolean {
    return this.operator.ready;
  }

  /** Why this replica is not ready (empty when it is): the informers that are down and why. */
  get notReady(): string[] {
    return this.operator.notReady;
  }

  /** Graceful: stop acting and drain work in flight first, then hand the Lease over. `crash` skips the release, as a killed process would. */
  async stop(crash = false): Promise<void> {
    await this.operator.stop();
    await this.elector?.stop(!crash);
  }
}
