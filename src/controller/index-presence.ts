// Every namespace the operator serves gets its DebugGrantIndex, empty until a grant is
// active: the admission policy then refuses a debug container with its own message ("no
// active DebugGrant lets …") instead of the API server's "no params found for policy
// binding", which is all it can say where the param does not exist.
import type { DebugGrantIndex } from '../api/grant-index.ts';
import { INDEX_NAME } from '../api/names.ts';
import type { KubeApi } from '../kube/client.ts';
import { createIndexIfAbsent } from '../kube/grant-index.ts';
import type { Logger } from '../log.ts';
import { apiMessage } from '../runtime/errors.ts';
import type { Cache } from '../runtime/cache.ts';

export class IndexPresence {
  /** Namespaces whose index exists or is being created (forgotten when it is deleted). */
  private readonly seen = new Set<string>();
  private readonly d: { api: KubeApi; indexes: Cache<DebugGrantIndex>; log: Logger };

  constructor(d: { api: KubeApi; indexes: Cache<DebugGrantIndex>; log: Logger }) {
    this.d = d;
  }

  /** Creates the namespace's index unless the cache has it; a failure is retried at the next call. */
  ensure(namespace: string): void {
    if (!namespace || this.seen.has(namespace) || this.d.indexes.get(INDEX_NAME, namespace)) return;
    this.seen.add(namespace);
    void createIndexIfAbsent(this.d.api, namespace).then(
      (created) => {
        if (created) this.d.log.debug({ namespace }, 'created an empty index for the admission policy');
      },
      (err: unknown) => {
        this.seen.delete(namespace);
        this.d.log.warn(
          { namespace, err: apiMessage(err) },
          'could not create the namespace\'s empty index; debug attempts there get the API server\'s "no params found"',
        );
      },
    );
  }

  /** The index was deleted (by hand, or with its namespace): the next ensure() creates it again. */
  forget(namespace: string): void {
    this.seen.delete(namespace);
  }
}
