// One cache over several informers (one per watched namespace, or one for all), with event
// handlers registered after construction, as client-go's AddEventHandler: the informers exist
// before anything that reacts to them, and nothing runs until start().
import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import { ResilientInformer, type CachedObject, type ListWatchSource, type ObjectHandler } from './informer.ts';
import type { Cache } from './cache.ts';

export class MultiCache<T extends CachedObject> implements Cache<T> {
  readonly informers: ResilientInformer<T>[];
  private readonly handlers: ObjectHandler<T>[] = [];
  private readonly relistHandlers: (() => void)[] = [];

  constructor(name: string, namespaces: readonly (string | undefined)[], source: (ns?: string) => ListWatchSource<T>, clock: Clock, log: Logger) {
    this.informers = namespaces.map(
      (ns) =>
        new ResilientInformer<T>(
          `${name}${ns ? `@${ns}` : ''}`,
          source(ns),
          clock,
          log,
          (o, event, previous) => {
            for (const h of this.handlers) h(o, event, previous);
          },
          () => {
            for (const h of this.relistHandlers) h();
          },
        ),
    );
  }

  /** Called for each object added, updated or deleted (in the cache already). */
  onEvent(handler: ObjectHandler<T>): void {
    this.handlers.push(handler);
  }

  /** Called after a list that followed a failure: events may have been missed meanwhile. */
  onRelist(handler: () => void): void {
    this.relistHandlers.push(handler);
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

  start(): Promise<void> {
    return Promise.all(this.informers.map((i) => i.start())).then(() => undefined);
  }

  stop(): Promise<void> {
    return Promise.all(this.informers.map((i) => i.stop())).then(() => undefined);
  }

  /** Each informer that is down, and why. */
  notReady(): string[] {
    return this.informers.flatMap((i) => i.notReadyReason ?? []);
  }
}
