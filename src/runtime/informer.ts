// An informer that lists, watches from the list's resourceVersion, keeps only what its
// transform picks, and never dies silently (client-go's Reflector, in small):
// - the initial list is streamed (WatchList, watch-list.ts): the API server sends every
//   object from its watch cache as a watch event, then a bookmark, and the same stream goes
//   on as the watch; objects go into the cache as they arrive, so memory during a start is
//   the cache and one event, and no continue token can expire however slow the reader;
// - an API server that does not stream (gate off, older than 1.27) is listed in pages
//   (`limit` + `continue`): memory during a start is one page; a continue token that expired
//   (410) starts a fresh list;
// - a watch the server ends (timeout) resumes from the last resourceVersion at once; a 410
//   lists again; any other failure retries after a short, capped backoff (at most 2 s, reset
//   by the next success; never sooner than a 429's Retry-After asks), so watches resume
//   within seconds of the API server answering;
// - a failure is logged as one line naming the server and the cause, at most every 30 s
//   while it lasts, and the informer reports itself not ready, with that reason, for /readyz.
import type { Logger } from 'pino';
import { retryDelay } from './backoff.ts';
import type { Clock } from './clock.ts';
import { httpStatus } from './errors.ts';
import { afterStreamFailure, endsInitialEvents, watchEventError } from './watch-list.ts';

export interface ListPage {
  items: unknown[];
  resourceVersion: string;
  /** Set when more pages follow. */
  continueToken: string | undefined;
}

export interface WatchStream {
  /** Resolves when the server ends the stream, rejects when it fails or stalls. */
  readonly ended: Promise<void>;
  stop(): void;
}

/** Where an informer's objects come from (src/kube/informers.ts builds these). */
export interface ListWatchSource<T> {
  /** The API server, for log lines. */
  readonly server: string;
  list(limit: number, continueToken: string | undefined): Promise<ListPage>;
  /**
   * A watch from `resourceVersion`. `initialEvents`: first every object as it is now (not
   * older than `resourceVersion`; "" is the most recent), then the bookmark that ends them.
   */
  watch(resourceVersion: string, onEvent: (type: string, object: unknown) => void, opts?: { initialEvents: boolean }): Promise<WatchStream>;
  /** The cached form of an object: only what the operator reads. */
  transform(raw: unknown): T;
  /** A failure in words a person can act on (connection refused, TLS, 401, 403 with the permission). */
  describe(err: unknown): string;
}

export interface CachedObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

/** `previous`: on an update, the object as the cache held it before. */
export type ObjectHandler<T> = (obj: T, event: 'add' | 'update' | 'delete', previous?: T) => void;

export interface InformerOptions {
  /** How the initial list is read: streamed (WatchList, the default) or in pages (always, as against a server that does not stream). */
  initialList?: 'stream' | 'pages';
  pageSize?: number;
  /** Backoff cap after failures; kept low so watches resume soon after the server is back. */
  maxBackoffMs?: number;
  /** At most one failure line per this period while failures last. */
  logEveryMs?: number;
}

/**
 * Objects per list page. A page is held twice while it is read (its JSON text and the parsed
 * objects) and the allocator keeps what it gave back, so the page bounds peak RSS; smaller
 * pages cost start-up time. 200 was chosen by measurement (`npm run bench -- cluster`; the
 * figures are in docs/benchmark.md).
 */
const DEFAULT_PAGE = 200;

export class ResilientInformer<T extends CachedObject> {
  readonly name: string;
  private readonly source: ListWatchSource<T>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly onObject: ObjectHandler<T>;
  private readonly onRelist: (() => void) | undefined;
  private readonly opts: Required<InformerOptions>;
  private readonly objects = new Map<string, Map<string, T>>();
  /** The last resourceVersion seen (list, event or bookmark): where a watch resumes. */
  private resourceVersion = '';
  /** Set until the first list, and again when the watch cannot resume (410). */
  private mustList = true;
  /** The API server refused to stream an initial list: it is listed in pages from then on. */
  private streamRefused = false;
  private streamFailures = 0;
  /** After a 410 or "Too large resource version": the next stream starts from the most recent state. */
  private streamFromLatest = false;
  private synced = false;
  private healthy = false;
  private stopped = false;
  private failures = 0;
  private failingSince: number | undefined;
  private lastLogged = 0;
  private suppressed = 0;
  private problem = 'initial list not done yet';
  private stream: WatchStream | undefined;
  private cancelWait: (() => void) | undefined;
  private firstSync: Promise<void> | undefined;

  /** `onRelist` runs after a list that followed a failure: events may have been missed meanwhile. */
  constructor(
    name: string,
    source: ListWatchSource<T>,
    clock: Clock,
    log: Logger,
    onObject: ObjectHandler<T>,
    onRelist?: () => void,
    opts: InformerOptions = {},
  ) {
    this.name = name;
    this.source = source;
    this.clock = clock;
    this.log = log;
    this.onObject = onObject;
    this.onRelist = onRelist;
    this.opts = {
      initialList: opts.initialList ?? 'stream',
      pageSize: opts.pageSize ?? DEFAULT_PAGE,
      maxBackoffMs: opts.maxBackoffMs ?? 2000,
      logEveryMs: opts.logEveryMs ?? 30_000,
    };
  }

  /** Resolves once the first full list is in the cache (retrying until it is), or on stop. */
  start(): Promise<void> {
    this.firstSync ??= new Promise<void>((resolve) => {
      void this.run(resolve);
    });
    return this.firstSync;
  }

  /** Listed once, and the watch not failing now. */
  get ready(): boolean {
    return this.synced && this.healthy;
  }

  /** Why it is not ready, for /readyz; undefined when ready. */
  get notReadyReason(): string | undefined {
    return this.ready ? undefined : `${this.name}: ${this.problem}`;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(namespace ?? '')?.get(name);
  }

  list(namespace?: string): readonly T[] {
    if (namespace !== undefined) return [...(this.objects.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const ns of this.objects.values()) for (const o of ns.values()) all.push(o);
    return all;
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.cancelWait?.();
    this.stream?.stop();
    return Promise.resolve();
  }

  private async run(firstSynced: () => void): Promise<void> {
    while (!this.stopped) {
      try {
        let stream: WatchStream | undefined;
        if (this.mustList) {
          const afterFailure = this.failures > 0 || this.synced;
          stream = await this.initialList();
          this.mustList = false;
          this.recovered();
          if (!this.synced) {
            this.synced = true;
            firstSynced();
          } else if (afterFailure) this.onRelist?.();
        }
        await this.watch(stream);
      } catch (err) {
        if (this.isStopped()) break;
        if (httpStatus(err) === 410 && !this.mustList) {
          // Too old to resume from: list afresh, at once.
          this.log.info({ informer: this.name }, 'resourceVersion expired (410); listing again');
          this.mustList = true;
          continue;
        }
        this.failed(err);
        await this.wait(this.backoff(err));
      }
    }
    firstSynced();
  }

  /** Streamed when the API server streams (then resolves with the stream, open as the watch), else in pages. */
  private async initialList(): Promise<WatchStream | undefined> {
    if (this.opts.initialList === 'stream' && !this.streamRefused) {
      for (;;) {
        try {
          const stream = await this.streamInitial(this.streamFromLatest ? '' : this.resourceVersion);
          this.streamFailures = 0;
          this.streamFromLatest = false;
          return stream;
        } catch (err) {
          if (this.isStopped()) throw err;
          const next = afterStreamFailure(err, this.streamFailures + 1, this.streamFromLatest);
          if (next.next === 'back-off') {
            this.streamFailures++;
            throw err;
          }
          if (next.next === 'stream-again') {
            this.log.info({ informer: this.name, cause: this.source.describe(err) }, `initial stream refused: ${next.reason}; streaming again`);
            this.streamFromLatest = true;
            await this.wait(next.delayMs);
            if (this.isStopped()) throw err;
            continue;
          }
          this.streamFailures = 0;
          if (next.next === 'list-from-now-on') {
            this.streamRefused = true;
            this.log.info(
              { informer: this.name, server: this.source.server, cause: this.source.describe(err) },
              'the API server does not stream initial lists (WatchList); listing in pages',
            );
          } else {
            this.log.warn({ informer: this.name, cause: this.source.describe(err) }, 'initial streams keep failing; listing in pages once');
          }
          break;
        }
      }
    }
    await this.relist();
    return undefined;
  }

  /** A method, so the compiler does not assume it unchanged across awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  /** Pages through the whole collection; objects it no longer contains are deleted from the cache. */
  private async relist(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const seen = this.seenSet();
      let token: string | undefined;
      let listedAt: string;
      try {
        do {
          const page = await this.source.list(this.opts.pageSize, token);
          for (const raw of page.items) this.saw(seen, this.upsert(this.source.transform(raw)));
          token = page.continueToken;
          listedAt = page.resourceVersion;
        } while (token && !this.stopped);
      } catch (err) {
        // The continue token expired (the snapshot it pages through was compacted): start over.
        if (httpStatus(err) === 410 && token !== undefined && attempt < 5) {
          this.log.info({ informer: this.name, attempt: attempt + 1 }, 'list continue token expired (410); listing from the start');
          continue;
        }
        throw err;
      }
      this.sweep(seen);
      this.resourceVersion = listedAt;
      return;
    }
  }

  /**
   * The initial events of one stream into the cache as they arrive (a paged list holds no
   * more than a page; this holds no more than an event), then, at the bookmark that ends
   * them, whatever was cached but not streamed is deleted. Resolves with the stream, which
   * goes on as the watch; rejects when it fails or ends before that bookmark.
   */
  private async streamInitial(resourceVersion: string): Promise<WatchStream> {
    const seen = this.seenSet();
    let initial = true;
    let done: () => void = () => undefined;
    let failed: (err: unknown) => void = () => undefined;
    const synced = new Promise<void>((resolve, reject) => {
      done = resolve;
      failed = reject;
    });
    const stream = await this.source.watch(
      resourceVersion,
      (type, raw) => {
        if (!initial) {
          this.event(type, raw);
        } else if (endsInitialEvents(type, raw)) {
          initial = false;
          this.sweep(seen);
          this.resourceVersion = (raw as CachedObject).metadata?.resourceVersion ?? this.resourceVersion;
          done();
        } else if (type === 'ADDED' || type === 'MODIFIED') {
          this.saw(seen, this.upsert(this.source.transform(raw)));
        } else {
          // DELETED, ERROR: as on any watch. An ordinary bookmark's resourceVersion is not
          // where this stream's state is complete: only the end bookmark's is.
          if (type !== 'BOOKMARK') this.event(type, raw);
        }
      },
      { initialEvents: true },
    );
    this.stream = stream;
    // After the end bookmark the stream's end is the watch's business: `failed` is then a no-op.
    stream.ended.then(() => {
      failed(new Error('the API server ended the initial events before their end bookmark'));
    }, failed);
    await synced;
    return stream;
  }

  /** Names seen by a list, by namespace (the objects' own strings); none when nothing is cached yet, as nothing can be stale. */
  private seenSet(): Map<string, Set<string>> | undefined {
    return this.objects.size > 0 ? new Map() : undefined;
  }

  private saw(seen: Map<string, Set<string>> | undefined, obj: T): void {
    if (!seen) return;
    const { name = '', namespace = '' } = obj.metadata ?? {};
    let names = seen.get(namespace);
    if (!names) seen.set(namespace, (names = new Set()));
    names.add(name);
  }

  /** Deletes from the cache what a complete list did not contain. */
  private sweep(seen: Map<string, Set<string>> | undefined): void {
    if (!seen) return;
    for (const [namespace, objs] of this.objects) {
      const names = seen.get(namespace);
      for (const [name, obj] of objs) {
        if (names?.has(name)) continue;
        objs.delete(name);
        this.onObject(obj, 'delete');
      }
      if (objs.size === 0) this.objects.delete(namespace);
    }
  }

  /** Follows `open` (the stream that brought the initial list) or a new watch from the last resourceVersion. */
  private async watch(open: WatchStream | undefined): Promise<void> {
    this.stream =
      open ??
      (await this.source.watch(this.resourceVersion, (type, raw) => {
        this.event(type, raw);
      }));
    if (this.stopped) {
      this.stream.stop();
      return;
    }
    this.recovered();
    await this.stream.ended;
  }

  private event(type: string, raw: unknown): void {
    if (type === 'ERROR') throw watchEventError(raw);
    const rv = (raw as CachedObject | undefined)?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (type === 'BOOKMARK') return;
    const obj = this.source.transform(raw);
    if (type === 'DELETED') {
      const { name = '', namespace = '' } = obj.metadata ?? {};
      const objs = this.objects.get(namespace);
      const known = objs?.get(name);
      objs?.delete(name);
      if (objs?.size === 0) this.objects.delete(namespace);
      this.onObject(known ?? obj, 'delete');
    } else {
      this.upsert(obj);
    }
  }

  /** Returns the object as cached (the one given, or the equal one already there). */
  private upsert(obj: T): T {
    const { name = '', namespace = '', resourceVersion } = obj.metadata ?? {};
    let objs = this.objects.get(namespace);
    if (!objs) {
      objs = new Map();
      this.objects.set(namespace, objs);
    }
    const known = objs.get(name);
    if (!known || known.metadata?.resourceVersion !== resourceVersion) {
      objs.set(name, obj);
      this.onObject(obj, known ? 'update' : 'add', known);
      return obj;
    }
    return known;
  }

  private recovered(): void {
    if (this.failingSince !== undefined) {
      this.log.info(
        { informer: this.name, server: this.source.server, downForMs: this.clock.now() - this.failingSince, attempts: this.failures },
        'API server answers again; informer resumed',
      );
    }
    this.healthy = true;
    this.failures = 0;
    this.failingSince = undefined;
    this.suppressed = 0;
    this.lastLogged = 0;
  }

  private failed(err: unknown): void {
    const now = this.clock.now();
    this.healthy = false;
    this.failures++;
    this.failingSince ??= now;
    const cause = this.source.describe(err);
    this.problem = `${cause} (failing since ${new Date(this.failingSince).toISOString()}, ${String(this.failures)} attempts)`;
    if (now - this.lastLogged < this.opts.logEveryMs && this.lastLogged !== 0) {
      this.suppressed++;
      return;
    }
    this.log.error(
      { informer: this.name, server: this.source.server, cause, attempts: this.failures, suppressed: this.suppressed },
      `cannot list/watch ${this.name}: ${cause}`,
    );
    this.lastLogged = now;
    this.suppressed = 0;
  }

  private backoff(err: unknown): number {
    return retryDelay(err, this.failures + 1, { baseMs: 100, maxMs: this.opts.maxBackoffMs, jitter: Math.random });
  }

  private wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancel = this.clock.setTimer(() => {
        this.cancelWait = undefined;
        resolve();
      }, ms);
      this.cancelWait = () => {
        cancel();
        resolve();
      };
    });
  }
}
