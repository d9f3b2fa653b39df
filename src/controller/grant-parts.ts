// The grant reconciler and what it shares with the deadline's fast path, built once, in
// dependency order, from the API lanes and the caches: the operator wires these, and the unit
// tests build the same graph over a recording client.
import type { DebugGrantHistory, DebugGrantIndex } from '../api/grant-index.ts';
import type { DebugGrant } from '../api/types.ts';
import { ms, type OperatorConfig } from '../config.ts';
import type { CachedPod, CachedRole, CachedRoleBinding, CachedTimer } from '../kube/cached.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { DeadlineFastPath } from '../revocation/fast-path.ts';
import type { LanedApi } from '../revocation/lanes.ts';
import type { Cache } from '../runtime/cache.ts';
import type { Clock } from '../runtime/clock.ts';
import { KeyedLock } from '../runtime/keyed-lock.ts';
import { AccessLedger } from './access-ledger.ts';
import type { EventSender } from './event-sender.ts';
import { FreshGrants } from './fresh-grants.ts';
import { GrantReconciler } from './grant-reconciler.ts';
import { IndexWriter } from './index-writer.ts';
import { GrantLingering } from './lingering/grant-lingering.ts';
import { RbacWriter } from './rbac-writer.ts';
import { GrantReporter } from './reporter.ts';
import { AccessVerifier } from './verifier.ts';

export interface GrantCaches {
  grants: Cache<DebugGrant>;
  pods: Cache<CachedPod>;
  roles: Cache<CachedRole>;
  bindings: Cache<CachedRoleBinding>;
  indexes: Cache<DebugGrantIndex>;
  /** The grants' timer Jobs (the second deadline path). */
  timers: Cache<CachedTimer>;
  /** The spent-name histories, all in the operator's own namespace. */
  histories: Cache<DebugGrantHistory>;
}

export interface GrantPartsDeps {
  lanes: LanedApi;
  caches: GrantCaches;
  config: OperatorConfig;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  events: EventSender;
  /** Who the operator acts as, for audit lines. */
  identity: string;
}

export interface GrantParts {
  reconciler: GrantReconciler;
  fastPath: DeadlineFastPath;
  /** The grants with our own latest writes: the grant informer tells it what it observed. */
  fresh: FreshGrants;
  /** The index's one writer (and the histories' restorer). */
  index: IndexWriter;
}

export function buildGrantParts({ lanes, caches, config, clock, log, metrics, events, identity }: GrantPartsDeps): GrantParts {
  const { api, urgentApi, apiUntil } = lanes;
  // Shared by the reconciler and the deadline's fast path: reads with our own writes, the
  // index's one writer, what this process knows of each grant's access, the RBAC lock.
  const fresh = new FreshGrants(caches.grants);
  const index = new IndexWriter({
    api,
    indexes: caches.indexes,
    retentionMs: ms(config.endedRetention),
    histories: caches.histories,
    home: config.leaderElection.namespace,
    log,
  });
  const ledger = new AccessLedger();
  const rbacLocks = new KeyedLock();
  const fastPath = new DeadlineFastPath({ urgentApi, clock, metrics, grants: fresh, index, bindings: caches.bindings, rbacLocks, ledger, log });
  const reporter = new GrantReporter({ api, clock, log, events, fresh, ledger, metrics, pods: caches.pods, identity });
  const reconciler = new GrantReconciler({
    api,
    config,
    clock,
    log,
    pods: caches.pods,
    roles: caches.roles,
    bindings: caches.bindings,
    fresh,
    index,
    ledger,
    reporter,
    rbac: new RbacWriter({
      api,
      urgentApi,
      apiUntil,
      clock,
      log,
      metrics,
      roles: caches.roles,
      bindings: caches.bindings,
      timers: caches.timers,
      rbacLocks,
      ledger,
      fastPath,
      reporter,
    }),
    verifier: new AccessVerifier({ api, clock, metrics, settleMs: ms(config.revocationSettle) }),
    lingering: new GrantLingering({ api, clock, grants: caches.grants, pods: caches.pods, reporter }),
  });
  return { reconciler, fastPath, fresh, index };
}
