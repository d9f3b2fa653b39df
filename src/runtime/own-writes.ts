// Read-your-writes over an informer's cache. The watch delivers our own write milliseconds
// after the API server answered it; a reconcile in that gap must act on what it wrote, not on
// the older copy (it would tell a transition twice, or lose a field it just wrote). Each key
// remembers our latest write and the resourceVersions it supersedes; a cached copy with any
// other resourceVersion is newer (or someone else's) and is trusted again.
interface Versioned {
  metadata?: { resourceVersion?: string };
}

interface Written<T> {
  superseded: Set<string>;
  object: T;
}

export class OwnWrites<T extends Versioned> {
  private readonly writes = new Map<string, Written<T>>();

  /**
   * The freshest copy we know: our own write while the cache holds what it superseded, or
   * holds nothing yet (a just-created object). Callers for whom an absent object means
   * "deleted" check the cache first.
   */
  freshest(key: string, cached: T | undefined): T | undefined {
    const own = this.writes.get(key);
    if (!own) return cached;
    if (!cached || own.superseded.has(versionOf(cached))) return own.object;
    this.writes.delete(key); // the cache caught up (or someone else wrote): trust it again
    return cached;
  }

  /** Remembers that our write `after` replaced `before`; returns `after`. */
  wrote(key: string, before: T | undefined, after: T): T {
    const superseded = this.writes.get(key)?.superseded ?? new Set<string>();
    superseded.add(before ? versionOf(before) : '');
    this.writes.set(key, { superseded, object: after });
    return after;
  }

  /** The watch delivered a version: our remembered write is no longer needed once it is newer. */
  observed(key: string, cached: T): void {
    const own = this.writes.get(key);
    if (own && !own.superseded.has(versionOf(cached))) this.writes.delete(key);
  }

  forget(key: string): void {
    this.writes.delete(key);
  }
}

function versionOf(o: Versioned): string {
  return o.metadata?.resourceVersion ?? '';
}
