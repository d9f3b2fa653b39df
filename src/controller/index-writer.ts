// The one writer of each namespace's DebugGrantIndex. The grants of a namespace share one
// object, so its writes go one at a time, each starting from the freshest copy we know: the
// informer's cache, or our own later write while the watch has not delivered it yet; the
// changes that wait meanwhile go together in the next write.
// It also keeps the second copy of each namespace's spent names, the DebugGrantHistory in the
// operator's own namespace: every end recorded in the index is recorded there too, what is
// read is the union of both, and each copy is restored from the other (restore()). Its writes
// go as the index's do: one per namespace on the wire, from the freshest copy, what waits
// meanwhile together in the next (grants of a namespace that end together would otherwise each
// write it from the same stale copy, and all but one conflict and read and write again).
import {
  contentOf,
  mergeEnded,
  retained,
  type DebugGrantHistory,
  type DebugGrantIndex,
  type EndedGrantEntry,
  type IndexChange,
  type IndexContent,
} from '../api/grant-index.ts';
import { sameContent } from '../api/equal.ts';
import { INDEX_NAME } from '../api/names.ts';
import type { KubeApi } from '../kube/client.ts';
import { rememberEnded } from '../kube/grant-history.ts';
import { changeIndex } from '../kube/grant-index.ts';
import type { Logger } from '../log.ts';
import { apiMessage } from '../runtime/errors.ts';
import { OwnWrites } from '../runtime/own-writes.ts';
import type { Cache } from '../runtime/cache.ts';

export interface IndexWriterDeps {
  api: KubeApi;
  indexes: Cache<DebugGrantIndex>;
  /** How long ended entries are kept (config.endedRetention). */
  retentionMs: number;
  /** The spent-name histories, all in `home`, one per namespace (named after it). */
  histories: Cache<DebugGrantHistory>;
  /** The operator's own namespace (config.leaderElection.namespace). */
  home: string;
  log: Logger;
}

interface WaitingNames {
  ended: EndedGrantEntry[];
  now: Date;
  written: (() => void)[];
}

interface WaitingChange {
  change: IndexChange;
  now: Date;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class IndexWriter {
  private readonly d: IndexWriterDeps;
  /** Per namespace: the changes waiting for the next write, and whether one is on the wire. */
  private readonly waiting = new Map<string, WaitingChange[]>();
  private readonly writing = new Set<string>();
  private readonly own = new OwnWrites<DebugGrantIndex>();
  /** Per namespace: the spent names waiting for the next history write, and whether one is on the wire. */
  private readonly waitingNames = new Map<string, WaitingNames>();
  private readonly remembering = new Set<string>();
  private readonly ownHistories = new OwnWrites<DebugGrantHistory>();

  constructor(deps: IndexWriterDeps) {
    this.d = deps;
  }

  /** The namespace's index as we know it (our own write included). */
  known(namespace: string): DebugGrantIndex | undefined {
    return this.own.freshest(namespace, this.d.indexes.get(INDEX_NAME, namespace));
  }

  /** Its entries as we know them; the ended ones from both copies (index and history). */
  content(namespace: string): IndexContent {
    const index = contentOf(this.known(namespace));
    return { active: index.active, ended: mergeEnded(index.ended, this.history(namespace)) };
  }

  /**
   * Applies one change. One write per namespace is on the wire at a time, from the freshest
   * copy we know; changes that arrive meanwhile wait and then go together, as one write (the
   * grants of a namespace share one object: twenty created at once cost two writes, not
   * twenty). Resolves once a write holding this change was answered; a failed write fails
   * every change it held (each caller's reconcile retries).
   */
  async change(namespace: string, change: IndexChange, now: Date): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const waiting = this.waiting.get(namespace);
      if (waiting) waiting.push({ change, now, resolve, reject });
      else this.waiting.set(namespace, [{ change, now, resolve, reject }]);
      if (!this.writing.has(namespace)) void this.drain(namespace);
    });
    if (change.kind === 'end')
      await this.remember(
        namespace,
        contentOf(this.known(namespace)).ended.filter((e) => e.grant === change.grant),
        now,
      );
  }

  /** Writes what waits for the namespace, all of it at once, until nothing waits. Never throws. */
  private async drain(namespace: string): Promise<void> {
    this.writing.add(namespace);
    try {
      for (let batch = this.take(namespace); batch.length > 0; batch = this.take(namespace)) {
        // Everything after take() is inside the try: a batch taken is always answered, or its
        // callers would wait forever (and with them their reconciles, and the operator's stop).
        try {
          const current = this.known(namespace);
          const now = new Date(Math.max(...batch.map((w) => w.now.getTime())));
          const written = await changeIndex(
            this.d.api,
            namespace,
            batch.map((w) => w.change),
            now,
            this.d.retentionMs,
            current,
          );
          if (written && written !== current) this.own.wrote(namespace, current, written);
          for (const w of batch) w.resolve();
        } catch (err) {
          this.own.forget(namespace); // start from the cache on the retry
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      this.writing.delete(namespace);
    }
  }

  private take(namespace: string): WaitingChange[] {
    const batch = this.waiting.get(namespace) ?? [];
    this.waiting.delete(namespace);
    return batch;
  }

  /**
   * Level-triggered repair of the two copies of a namespace's spent names: the history gets
   * what only the index holds; an index that exists gets what only the history holds (an index
   * deleted and made afresh starts empty). Never throws: what fails is logged and tried again
   * at the next event or resync.
   */
  async restore(namespace: string, now: Date): Promise<void> {
    const index = this.known(namespace);
    const union = retained(mergeEnded(contentOf(index).ended, this.history(namespace)), now, this.d.retentionMs);
    if (index && !sameContent(retained(contentOf(index).ended, now, this.d.retentionMs), union)) {
      try {
        await this.change(namespace, { kind: 'remember', ended: union }, now);
      } catch (err) {
        this.d.log.warn({ namespace, err: apiMessage(err) }, "could not restore the index's record of spent grant names from its history");
      }
    }
    await this.remember(namespace, union, now);
  }

  private history(namespace: string): EndedGrantEntry[] {
    return this.d.histories.get(namespace, this.d.home)?.ended ?? [];
  }

  /**
   * Where the namespace's next history write starts: our own last write while the cache holds
   * what it replaced. Not when the cache holds none: deleted (by hand), it is made afresh.
   */
  private historyToWrite(namespace: string): DebugGrantHistory | undefined {
    const cached = this.d.histories.get(namespace, this.d.home);
    return cached && this.ownHistories.freshest(namespace, cached);
  }

  /**
   * Adds to the namespace's history what it lacks, together with what else waits for that
   * history's next write. Resolves once a write holding it was answered; a failure is logged
   * (restore() repairs it later), never thrown.
   */
  private async remember(namespace: string, ended: EndedGrantEntry[], now: Date): Promise<void> {
    const known = this.history(namespace);
    if (ended.length === 0 || sameContent(mergeEnded(known, ended), mergeEnded(known, []))) return;
    await new Promise<void>((resolve) => {
      const waiting = this.waitingNames.get(namespace);
      if (waiting) {
        waiting.ended.push(...ended);
        if (now > waiting.now) waiting.now = now;
        waiting.written.push(resolve);
      } else this.waitingNames.set(namespace, { ended: [...ended], now, written: [resolve] });
      if (!this.remembering.has(namespace)) void this.drainNames(namespace);
    });
  }

  /** Writes the spent names that wait for the namespace's history, all at once, until none wait. Never throws. */
  private async drainNames(namespace: string): Promise<void> {
    this.remembering.add(namespace);
    try {
      for (let batch = this.waitingNames.get(namespace); batch; batch = this.waitingNames.get(namespace)) {
        this.waitingNames.delete(namespace);
        try {
          const current = this.historyToWrite(namespace);
          const written = await rememberEnded(this.d.api, this.d.home, namespace, batch.ended, batch.now, this.d.retentionMs, current);
          if (written && written !== current) this.ownHistories.wrote(namespace, current, written);
        } catch (err) {
          this.ownHistories.forget(namespace); // start from the cache next time
          this.d.log.warn(
            { namespace, home: this.d.home, err: apiMessage(err) },
            "could not record spent grant names in the operator's namespace; the index still holds them",
          );
        } finally {
          for (const resolve of batch.written) resolve();
        }
      }
    } finally {
      this.remembering.delete(namespace);
    }
  }
}
