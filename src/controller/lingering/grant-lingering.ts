// An ended grant's part in lingering: its record of the ephemeral containers still running on
// its pods (by the one definition in lingering.ts), and with `onExpiry: Evict` the eviction of
// those pods. The pod's reconciler (lingering-reconciler.ts) flags each container on the pod;
// the grant says so once more on its own object, so `kubectl describe dg` shows it.
import type { DebugGrant, LingeringContainer } from '../../api/types.ts';
import type { CachedPod } from '../../kube/cached.ts';
import type { KubeApi } from '../../kube/client.ts';
import { evictPod } from '../../kube/pods.ts';
import type { Logger } from '../../log.ts';
import type { Clock } from '../../runtime/clock.ts';
import { apiMessage } from '../../runtime/errors.ts';
import type { Cache } from '../../runtime/cache.ts';
import type { GrantDecision } from '../plan.ts';
import type { GrantReporter } from '../reporter.ts';
import { selectorMatches } from '../selector.ts';
import { coveredPods, hasController, lingeringOn, overdueSessions } from './lingering.ts';

/** A PodDisruptionBudget refusing an eviction: asked again after this long. */
const EVICTION_RETRY_MS = 5_000;

export interface GrantLingeringDeps {
  api: KubeApi;
  clock: Clock;
  grants: Cache<DebugGrant>;
  pods: Cache<CachedPod>;
  reporter: GrantReporter;
}

export interface LingeringFound {
  /** A record, not a snapshot: entries stay after the container stops or the pod goes. */
  record: LingeringContainer[];
  /** Those running now: while any runs, the grant is degraded (Stalled), not a normal end. */
  running: LingeringContainer[];
  /** A debug container its deadline wrapper is ending is not lingering yet: look again after this long (ms). */
  recheckAfter?: number;
}

export class GrantLingering {
  private readonly d: GrantLingeringDeps;

  constructor(deps: GrantLingeringDeps) {
    this.d = deps;
  }

  /** The ended grant's record of lingering containers, and those running now; a Warning Event names the new ones. */
  find(d: GrantDecision, grant: DebugGrant): LingeringFound {
    const spec = d.spec;
    if (!spec) return { record: [], running: [] };
    const covered = coveredPods(this.d.grants.list(d.ref.namespace));
    const previous = grant.status?.lingering ?? [];
    const record: LingeringContainer[] = previous.map((p) => ({ ...p }));
    const running: LingeringContainer[] = [];
    const now = this.d.clock.now();
    let recheckAt: number | undefined;
    for (const pod of this.d.pods.list(d.ref.namespace)) {
      const podName = pod.metadata?.name ?? '';
      if (!(d.pods.includes(podName) || selectorMatches(spec.podSelector, pod.metadata?.labels))) continue;
      const at = overdueSessions(pod, now).recheckAt;
      if (at !== undefined) recheckAt = Math.min(recheckAt ?? at, at);
      for (const r of lingeringOn(pod, covered, now)) {
        running.push({ pod: podName, container: r.container, image: r.image });
        if (!record.some((p) => p.pod === podName && p.container === r.container)) record.push({ pod: podName, container: r.container, image: r.image });
      }
    }
    const fresh = record.slice(previous.length);
    if (fresh.length > 0) {
      const what = fresh.map((l) => `${l.pod}/${l.container}`).join(', ');
      this.d.reporter.event(d.ref, 'Warning', 'LingeringEphemeralContainer', `ephemeral containers still running after the grant ended: ${what}`);
    }
    return { record, running, ...(recheckAt === undefined ? {} : { recheckAfter: recheckAt - now }) };
  }

  /**
   * onExpiry: Evict: evicts the pods with lingering containers (those with a controller to
   * recreate them), marking them evicted in `lingering`. Returns when to try again, if a
   * PodDisruptionBudget refused one (its containers stay flagged meanwhile).
   */
  async evict(d: GrantDecision, lingering: LingeringContainer[], log: Logger): Promise<number | undefined> {
    let retryAfter: number | undefined;
    for (const podName of new Set(lingering.filter((l) => !l.evictedAt).map((l) => l.pod))) {
      const pod = this.d.pods.get(podName, d.ref.namespace);
      if (!pod || pod.metadata?.deletionTimestamp) continue;
      if (!hasController(pod)) {
        this.d.reporter.event(d.ref, 'Warning', 'NotEvicted', `pod ${podName} has no controller to recreate it, so it is flagged, not evicted`);
        continue;
      }
      try {
        await evictPod(this.d.api, d.ref.namespace, podName);
      } catch (err) {
        log.warn({ pod: podName, err: apiMessage(err) }, 'eviction refused; will retry');
        retryAfter = EVICTION_RETRY_MS;
        continue;
      }
      const at = new Date(this.d.clock.now()).toISOString();
      for (const l of lingering) if (l.pod === podName) l.evictedAt = at;
      this.d.reporter.event(d.ref, 'Normal', 'Evicted', `evicted pod ${podName} to end its lingering ephemeral containers (onExpiry: Evict)`);
      this.d.reporter.auditLine(log, 'pod.evicted', d, 'Evicted', new Date(this.d.clock.now()), [podName]);
    }
    return retryAfter;
  }
}
