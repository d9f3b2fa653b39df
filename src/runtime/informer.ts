// An informer that never dies silently. client-node's ListWatch relists on 410 by itself
// but stops on any other error; this restarts it with capped, jittered backoff, and says
// whether its cache can be trusted (for /readyz).
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from './clock.ts';

export interface ListWatchLike<T extends KubernetesObject> {
  on(verb: 'add' | 'update' | 'delete', cb: (obj: T) => void): void;
  on(verb: 'error' | 'connect', cb: (err?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}

export type ObjectHandler<T> = (obj: T, event: 'add' | 'update' | 'delete') => void;

function trim(o: KubernetesObject): void {
  if (o.metadata) delete o.metadata.managedFields;
}

export class ResilientInformer<T extends KubernetesObject> {
  private healthy = false;
  private stopped = false;
  private syncing = false;
  private erroredDuringSync = false;
  private failures = 0;
  private cancelRestart: (() => void) | undefined;

  readonly name: string;
  private readonly inner: ListWatchLike<T>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly onRestart: (() => void) | undefined;

  constructor(name: string, inner: ListWatchLike<T>, clock: Clock, log: Logger, onObject: ObjectHandler<T>, onRestart?: () => void) {
    this.name = name;
    this.inner = inner;
    this.clock = clock;
    this.log = log;
    this.onRestart = onRestart;
    // The cache holds the very objects these callbacks get: trimming them here trims the
    // cache (client-go's SetTransform). managedFields are often half an object's size and
    // nothing here reads them.
    inner.on('add', (o) => { trim(o); onObject(o, 'add'); });
    inner.on('update', (o) => { trim(o); onObject(o, 'update'); });
    inner.on('delete', (o) => { onObject(o, 'delete'); });
    inner.on('error', (err) => { this.failed(err); });
  }

  /** Resolves once the first list has landed in the cache (retrying until it does). */
  start(): Promise<void> {
    return this.syncUntilHealthy();
  }

  get ready(): boolean {
    return this.healthy;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.inner.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.inner.list(namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelRestart?.();
    await this.inner.stop();
  }

  private async syncUntilHealthy(): Promise<void> {
    this.syncing = true;
    while (!this.stopped) {
      this.erroredDuringSync = false;
      try {
        await this.inner.start();
      } catch (err) {
        this.erroredDuringSync = true;
        this.log.warn({ informer: this.name, err }, 'informer could not start');
      }
      // ListWatch reports a failed list through its error callback, not by rejecting.
      if (!this.erroredDuringSync) {
        this.healthy = true;
        this.failures = 0;
        break;
      }
      this.failures++;
      await new Promise<void>((resolve) => { this.cancelRestart = this.clock.setTimer(resolve, this.backoff()); });
    }
    this.syncing = false;
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    this.healthy = false;
    if (this.syncing) {
      this.erroredDuringSync = true;
      return;
    }
    this.failures++;
    this.log.warn({ informer: this.name, err, attempt: this.failures }, 'watch failed; restarting informer');
    void this.syncUntilHealthy().then(() => {
      // Events may have been missed while the watch was down: let the owner re-check everything.
      if (this.healthy) this.onRestart?.();
    });
  }

  private backoff(): number {
    const exp = Math.min(30_000, 200 * 2 ** Math.min(this.failures, 10));
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }
}
