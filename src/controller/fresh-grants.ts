// The grants as this process knows them: the informer's cache, or our own later write of a
// grant while the watch has not delivered it yet (runtime/own-writes.ts).
import type { DebugGrant } from '../api/types.ts';
import type { Cache } from '../runtime/cache.ts';
import { OwnWrites } from '../runtime/own-writes.ts';
import { splitKey } from '../runtime/object-key.ts';

export class FreshGrants {
  private readonly cache: Cache<DebugGrant>;
  private readonly own = new OwnWrites<DebugGrant>();

  constructor(cache: Cache<DebugGrant>) {
    this.cache = cache;
  }

  /** The grant of `key`, or undefined when the cache has none (it was deleted). */
  get(key: string): DebugGrant | undefined {
    const { namespace, name } = splitKey(key);
    const cached = this.cache.get(name, namespace);
    return cached && this.own.freshest(key, cached);
  }

  /** Our write `after` replaced `before`: read it until the watch delivers something newer. */
  wrote(key: string, before: DebugGrant, after: DebugGrant): DebugGrant {
    return this.own.wrote(key, before, after);
  }

  observed(key: string, grant: DebugGrant): void {
    this.own.observed(key, grant);
  }

  forget(key: string): void {
    this.own.forget(key);
  }
}
