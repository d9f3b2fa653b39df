// What the pod reconcilers (lingering containers, sessions outside any grant) are given.
import type { DebugGrant } from '../api/types.ts';
import type { KubeApi } from '../kube/client.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Cache } from '../runtime/cache.ts';
import type { Clock } from '../runtime/clock.ts';
import type { EventSender } from './event-sender.ts';

export interface PodReconcilerDeps {
  api: KubeApi;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  events: EventSender;
  grants: Cache<DebugGrant>;
  /** Identity written into audit lines as `by`. */
  identity: string;
}
