// The one writer of each namespace's DebugGrantIndex. The grants of a namespace share one
// object, so its writes go one at a time, each starting from the freshest copy we know: the
// informer's cache, or our own later write while the watch has not delivered it yet.
import { contentOf, type DebugGrantIndex, type IndexChange, type IndexContent } from '../api/grant-index.ts';
import { INDEX_NAME } from '../api/names.ts';
import type { KubeApi } from '../kube/client.ts';
import { changeIndex } from '../kube/grant-index.ts';
import { KeyedLock } from '../runtime/keyed-lock.ts';
import { OwnWrites } from '../runtime/own-writes.ts';
import type { Cache } from '../runtime/reconciler-context.ts';

export interface IndexWriterDeps {
  api: KubeApi;
  indexes: Cache<DebugGrantIndex>;
  /** How long ended entries are kept (config.endedRetention). */
  retentionMs: number;
}

export class IndexWriter {
  private readonly d: IndexWriterDeps;
  private readonly locks = new KeyedLock();
  private readonly own = new OwnWrites<DebugGrantIndex>();

  constructor(deps: IndexWriterDeps) {
    this.d = deps;
  }

  /** The namespace's index as we know it (our own write included). */
  known(namespace: string): DebugGrantIndex | undefined {
    return this.own.freshest(namespace, this.d.indexes.get(INDEX_NAME, namespace));
  }

  /** Its entries as we know them. */
  content(namespace: string): IndexContent {
    return contentOf(this.known(namespace));
  }

  /** Applies one change, one writer per namespace at a time, from the freshest copy we know. */
  async change(namespace: string, change: IndexChange, now: Date): Promise<void> {
    await this.locks.run(namespace, async () => {
      const current = this.known(namespace);
      let written: DebugGrantIndex | undefined;
      try {
        written = await changeIndex(this.d.api, namespace, change, now, this.d.retentionMs, current);
      } catch (err) {
        this.own.forget(namespace); // start from the cache on the retry
        throw err;
      }
      if (written && written !== current) this.own.wrote(namespace, current, written);
    });
  }
}
