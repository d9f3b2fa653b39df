// What every reconciler is given: the API, time, logs, metrics, Events, and read-only
// caches of what the informers observe. Reconcilers never list from the API server.
import type { CachedPod } from '../kube/cached.ts';
import type { DebugGrant } from '../api/types.ts';
import type { KubeApi } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Clock } from './clock.ts';

export interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}

export interface ReconcilerContext {
  api: KubeApi;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  grants: Cache<DebugGrant>;
  pods: Cache<CachedPod>;
  /** Identity written into audit lines as `by`. */
  identity: string;
}
