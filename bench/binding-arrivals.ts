// When a grant's RoleBinding appeared, for benches that wait on many at once: the watch's ADDED
// event, or, should the watch never report it (seen in the activation bench: one binding per
// phase, written per the API server's audit log, never reported, and the bench waited
// forever), a list of the namespace's grant RoleBindings (by label, from etcd) that finds it.
// Waiting is bounded: a binding not there by `limitMs` is reported as missing, not waited for.
// Every binding found by the list rather than the watch is recorded, with whether the bench's
// own informer cache held it (the watch delivered it, the event was lost on the way to the
// waiter) or not (the watch never delivered it).
import type { KubeApi } from '../src/kube/client.ts';
import { roleBindingSource } from '../src/kube/informers.ts';
import type { BindingEvents } from './expiry.ts';

export interface MissedBinding {
  key: string;
  /** From the wait's start to the list that found it (ms). */
  foundAfterMs: number;
  /** Whether the bench's informer had it in its cache when the list found it. */
  inWatchCache: boolean;
}

interface Waiter {
  namespace: string;
  name: string;
  since: number;
  found: (at: number) => void;
}

export interface ArrivalOptions {
  /** A binding not reported this long after its wait began is looked for by a list (ms). */
  listAfterMs: number;
  /** How often waits are swept, and at most one list per namespace per this period (ms). */
  sweepMs: number;
  /** Waits end with `undefined` after this long (ms). */
  limitMs: number;
}

const DEFAULTS: ArrivalOptions = { listAfterMs: 10_000, sweepMs: 5_000, limitMs: 10 * 60_000 };

export class BindingArrivals {
  readonly missed: MissedBinding[] = [];
  /** Waits that ended at the limit with no binding (namespace/name). */
  readonly timedOut: string[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly timer: NodeJS.Timeout;
  private sweeping = false;
  private readonly opts: ArrivalOptions;

  private readonly events: BindingEvents;
  private readonly api: KubeApi;
  private readonly cached: (namespace: string, name: string) => boolean;

  /** `cached`: whether the bench's informer holds the binding (diagnosis of a miss). */
  constructor(events: BindingEvents, api: KubeApi, cached: (namespace: string, name: string) => boolean, opts: Partial<ArrivalOptions> = {}) {
    this.events = events;
    this.api = api;
    this.cached = cached;
    this.opts = { ...DEFAULTS, ...opts };
    this.timer = setInterval(() => void this.sweep(), this.opts.sweepMs);
    this.timer.unref();
  }

  /**
   * Call before the write that makes the binding (the watch may report it before that write
   * returns). Resolves with the time it was seen (the event's arrival, or the list that found
   * it: later than it appeared), or undefined at the limit.
   */
  arrival(namespace: string, name: string): Promise<number | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      const waiter: Waiter = {
        namespace,
        name,
        since: Date.now(),
        found: (at) => {
          if (settled) return;
          settled = true;
          clearTimeout(limit);
          this.waiters.delete(waiter);
          resolve(at);
        },
      };
      const limit = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.waiters.delete(waiter);
        this.timedOut.push(`${namespace}/${name}`);
        resolve(undefined);
      }, this.opts.limitMs);
      this.waiters.add(waiter);
      void this.events.next('ADDED', namespace, name).then(() => {
        waiter.found(Date.now());
      });
    });
  }

  /** Waits not yet ended. */
  get waiting(): number {
    return this.waiters.size;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Lists the namespaces of waits older than listAfterMs, one namespace at a time. */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      const stale = new Map<string, Waiter[]>();
      for (const w of this.waiters) {
        if (now - w.since < this.opts.listAfterMs) continue;
        stale.set(w.namespace, [...(stale.get(w.namespace) ?? []), w]);
      }
      for (const [namespace, waiting] of stale) {
        const present = await this.names(namespace);
        for (const w of waiting) {
          if (!present.has(w.name) || !this.waiters.has(w)) continue;
          const at = Date.now();
          this.missed.push({ key: `${namespace}/${w.name}`, foundAfterMs: at - w.since, inWatchCache: this.cached(namespace, w.name) });
          w.found(at);
        }
      }
    } catch (err) {
      // The next sweep tries again; the limit still ends every wait.
      process.stderr.write(`binding arrivals: list failed: ${err instanceof Error ? err.message : String(err)}\n`);
    } finally {
      this.sweeping = false;
    }
  }

  /** The names of the namespace's grant RoleBindings, listed by the operator's label. */
  private async names(namespace: string): Promise<Set<string>> {
    const source = roleBindingSource(this.api, namespace);
    const names = new Set<string>();
    let token: string | undefined;
    do {
      const page = await source.list(500, token);
      for (const raw of page.items) names.add((raw as { metadata?: { name?: string } }).metadata?.name ?? '');
      token = page.continueToken;
    } while (token);
    return names;
  }
}
