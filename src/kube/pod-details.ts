// The pod cache: every pod as metadata (the pod informer watches PartialObjectMetadata, see
// informers.ts), and the whole pod only where the operator needs more than metadata: a pod
// whose spec changed since it was created (`metadata.generation` > 1), which is how the API
// server records an ephemeral container being added. Lingering detection and the session
// record read those pods' ephemeral containers and their statuses; a pod nobody debugged
// has none, so nothing but its metadata is ever read or kept.
//
// A pod in the detail set is read again (GET) whenever its resourceVersion moves (a kubelet
// writing an ephemeral container's state); one whose changed spec holds no ephemeral
// container (e.g. resized in place) is not read again until its generation moves. Reads of
// one pod never overlap, and a failed read is retried with the operator's one retry delay.
import type { Cache } from '../runtime/cache.ts';
import { retryDelay } from '../runtime/backoff.ts';
import type { Clock } from '../runtime/clock.ts';
import { objectKey } from '../runtime/object-key.ts';
import { cachedPod, type CachedPod } from './cached.ts';

export interface PodDetailsDeps {
  clock: Clock;
  /** The whole pod as JSON, undefined when it is gone. */
  read(namespace: string, name: string): Promise<unknown>;
  /** A pod's details arrived or changed: it is worth another look (lingering, sessions). */
  changed(pod: CachedPod): void;
  /** A read failed (it is retried). */
  failed?(key: string, err: unknown): void;
}

/** Only a pod whose spec changed since its creation can have ephemeral containers. */
export const specChanged = (pod: CachedPod): boolean => (pod.metadata?.generation ?? 1) > 1;

interface Entry {
  /** The last whole read, kept while it shows ephemeral containers. */
  detail?: CachedPod;
  /** Read at this generation and found without ephemeral containers. */
  plainAtGeneration?: number;
  reading: boolean;
  /** The metadata moved while a read was under way: read again after it. */
  again: boolean;
  failures: number;
  cancelRetry?: () => void;
}

export class PodDetails {
  private readonly d: PodDetailsDeps;
  private readonly entries = new Map<string, Entry>();
  private readonly idleWaiters: (() => void)[] = [];
  private reads = 0;

  constructor(deps: PodDetailsDeps) {
    this.d = deps;
  }

  /** From the pod informer: what the metadata says decides whether the whole pod is read (again). */
  observe(pod: CachedPod, event: 'add' | 'update' | 'delete'): void {
    const key = objectKey(pod.metadata?.namespace ?? '', pod.metadata?.name ?? '');
    if (event === 'delete' || !specChanged(pod)) {
      this.forget(key);
      return;
    }
    const entry = this.entries.get(key) ?? { reading: false, again: false, failures: 0 };
    this.entries.set(key, entry);
    if (entry.detail?.metadata?.resourceVersion === pod.metadata?.resourceVersion) return;
    if (!entry.detail && entry.plainAtGeneration === pod.metadata?.generation) return;
    if (entry.reading) {
      entry.again = true;
      return;
    }
    if (entry.cancelRetry) return; // a retry is already due
    this.read(key, entry, pod);
  }

  /** The pod with what its last read found (ephemeral containers, their statuses, phase), on its current metadata. */
  merged(pod: CachedPod): CachedPod {
    const detail = this.entries.get(objectKey(pod.metadata?.namespace ?? '', pod.metadata?.name ?? ''))?.detail;
    return detail ? { ...detail, metadata: pod.metadata } : pod;
  }

  /** Resolves once no read is under way (after a start, before the first reconciles). */
  settled(): Promise<void> {
    return this.reads === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Pods whose last read showed ephemeral containers. */
  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.detail) n++;
    return n;
  }

  private forget(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.cancelRetry?.();
    this.entries.delete(key);
  }

  private read(key: string, entry: Entry, pod: CachedPod): void {
    entry.reading = true;
    entry.again = false;
    this.reads++;
    const { namespace = '', name = '' } = pod.metadata ?? {};
    void this.d
      .read(namespace, name)
      .then(
        (raw) => {
          entry.failures = 0;
          if (this.entries.get(key) !== entry) return; // deleted meanwhile
          const whole = raw === undefined ? undefined : cachedPod(raw);
          if (whole?.spec?.ephemeralContainers?.length) {
            entry.detail = whole;
            entry.plainAtGeneration = undefined;
          } else {
            entry.detail = undefined;
            entry.plainAtGeneration = whole?.metadata?.generation ?? pod.metadata?.generation;
          }
          if (whole) this.d.changed(whole);
        },
        (err: unknown) => {
          entry.failures++;
          this.d.failed?.(key, err);
          if (this.entries.get(key) !== entry) return;
          entry.cancelRetry = this.d.clock.setTimer(
            () => {
              entry.cancelRetry = undefined;
              if (this.entries.get(key) === entry && !entry.reading) this.read(key, entry, pod);
            },
            retryDelay(err, entry.failures, { baseMs: 100, maxMs: 30_000, jitter: Math.random }),
          );
        },
      )
      .finally(() => {
        entry.reading = false;
        this.reads--;
        if (entry.again && this.entries.get(key) === entry) this.read(key, entry, pod);
        if (this.reads === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
  }
}

/** The pods as reconcilers read them: the informer's metadata, with the details read for the pods that have them. */
export class PodCache implements Cache<CachedPod> {
  private readonly metadata: Cache<CachedPod>;
  private readonly details: PodDetails;

  constructor(metadata: Cache<CachedPod>, details: PodDetails) {
    this.metadata = metadata;
    this.details = details;
  }

  get(name: string, namespace?: string): CachedPod | undefined {
    const pod = this.metadata.get(name, namespace);
    return pod && this.details.merged(pod);
  }

  list(namespace?: string): readonly CachedPod[] {
    const pods = this.metadata.list(namespace);
    return this.details.size === 0 ? pods : pods.map((p) => this.details.merged(p));
  }
}
