// What the operator observes, one cache per kind over the watched namespaces. The revocation
// runnable needs three of them on every replica (grants, index entries, RoleBindings: every
// recorded deadline and what to delete at it); the leader also needs pods, Roles, timer Jobs
// and the spent-name histories.
import type { DebugGrantHistory, DebugGrantIndex } from '../api/grant-index.ts';
import type { DebugGrant } from '../api/types.ts';
import { cachedPod, sameApartFromVersion, type CachedPod, type CachedRole, type CachedRoleBinding, type CachedTimer } from '../kube/cached.ts';
import type { KubeApi } from '../kube/client.ts';
import { grantSource, historySource, indexSource, podSource, readPod, roleBindingSource, roleSource, timerSource } from '../kube/informers.ts';
import { PodCache, PodDetails } from '../kube/pod-details.ts';
import type { Logger } from '../log.ts';
import type { Clock } from '../runtime/clock.ts';
import { apiMessage } from '../runtime/errors.ts';
import type { CachedObject } from '../runtime/informer.ts';
import { MultiCache } from '../runtime/multi-cache.ts';

export class Caches {
  readonly grants: MultiCache<DebugGrant>;
  /** Pods as metadata (podSource); `pods` adds the whole pod where its spec changed (src/kube/pod-details.ts). */
  readonly podMetadata: MultiCache<CachedPod>;
  readonly podDetails: PodDetails;
  readonly pods: PodCache;
  readonly roles: MultiCache<CachedRole>;
  readonly bindings: MultiCache<CachedRoleBinding>;
  readonly indexes: MultiCache<DebugGrantIndex>;
  /** The grants' timer Jobs (the second deadline path, src/revocation/timer-job.ts). */
  readonly timers: MultiCache<CachedTimer>;
  /** The second copy of each namespace's spent names, in the operator's own namespace. */
  readonly histories: MultiCache<DebugGrantHistory>;
  private readonly podHandlers: ((pod: CachedPod) => void)[] = [];
  private readonly readPod: (namespace: string, name: string) => Promise<unknown>;

  /** `namespaces`: those watched (empty: all); `home`: the operator's own namespace. */
  constructor(api: KubeApi, namespaces: readonly string[], home: string, clock: Clock, log: Logger) {
    const scopes = namespaces.length > 0 ? namespaces : [undefined];
    this.readPod = (ns, name) => readPod(api, ns, name);
    this.grants = new MultiCache('debuggrants', scopes, (ns) => grantSource(api, ns), clock, log);
    this.podMetadata = new MultiCache('pods', scopes, (ns) => podSource(api, ns), clock, log);
    this.podDetails = new PodDetails({
      clock,
      read: this.readPod,
      changed: (p) => {
        this.podChanged(p);
      },
      failed: (key, err) => {
        log.warn({ key, err: apiMessage(err) }, 'could not read pod; retrying');
      },
    });
    this.podMetadata.onEvent((p, event, previous) => {
      this.podDetails.observe(p, event);
      // A kubelet's status write moves only the resourceVersion of a pod's metadata: nothing a
      // grant selects by or lingering reads (a pod whose details move is told after its read).
      if (event === 'update' && previous && sameApartFromVersion(previous, p)) return;
      this.podChanged(this.podDetails.merged(p));
    });
    this.pods = new PodCache(this.podMetadata, this.podDetails);
    this.roles = new MultiCache('roles', scopes, (ns) => roleSource(api, ns), clock, log);
    this.bindings = new MultiCache('rolebindings', scopes, (ns) => roleBindingSource(api, ns), clock, log);
    this.indexes = new MultiCache('debuggrantindexes', scopes, (ns) => indexSource(api, ns), clock, log);
    this.timers = new MultiCache('timers', scopes, (ns) => timerSource(api, ns), clock, log);
    this.histories = new MultiCache('debuggranthistories', [home], () => historySource(api, home), clock, log);
  }

  /**
   * The pod as the pod reconcilers see it: the cache's or, for one the cache does not hold, the
   * API server's copy; undefined when it is gone. The informer watches unfinished pods only, so
   * a pod that finished (Succeeded, Failed) leaves the cache but not the cluster, and its
   * lingering flag still has to come off, the ends of its sessions still have to be told.
   */
  async podNow(namespace: string, name: string): Promise<CachedPod | undefined> {
    const cached = this.pods.get(name, namespace);
    if (cached) return cached;
    const raw = await this.readPod(namespace, name);
    return raw === undefined ? undefined : cachedPod(raw);
  }

  /** Called for each pod change, with the whole pod where it was read (after its metadata, or its details). */
  onPod(handler: (pod: CachedPod) => void): void {
    this.podHandlers.push(handler);
  }

  /** What revocation reads, on every replica. */
  get forRevocation(): MultiCache<CachedObject>[] {
    return [this.grants, this.indexes, this.bindings] as MultiCache<CachedObject>[];
  }

  /** What only the leader reads besides (a grant is planned against both copies of its namespace's spent names). */
  get forLeader(): MultiCache<CachedObject>[] {
    return [this.podMetadata, this.roles, this.timers, this.histories] as MultiCache<CachedObject>[];
  }

  get all(): MultiCache<CachedObject>[] {
    return [...this.forRevocation, ...this.forLeader];
  }

  private podChanged(pod: CachedPod): void {
    for (const h of this.podHandlers) h(pod);
  }
}
