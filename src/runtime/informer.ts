// An informer that lists in pages, watches from the list's resourceVersion, keeps only what
// its transform picks, and never dies silently (client-go's Reflector, in small):
// - the list is paged (`limit` + `continue`): memory during a start is one page, never the
//   whole cluster's objects in one response; a continue token that expired (410) starts a
//   fresh list;
// - a watch the server ends (timeout) resumes from the last resourceVersion at once; a 410
//   relists; any other failure retries after a short, capped backoff (at most 2 s, reset
//   by the next success; never sooner than a 429's Retry-After asks), so watches resume
//   within seconds of the API server answering;
// - a failure is logged as one line naming the server and the cause, at most every 30 s
//   while it lasts, and the informer reports itself not ready, with that reason, for /readyz.
import type { Logger } from 'pino';
import { retryDelay } from './backoff.ts';
import type { Clock } from './clock.ts';
import { httpStatus } from './errors.ts';

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
  watch(resourceVersion: string, onEvent: (type: string, object: unknown) => void): Promise<WatchStream>;
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
  pageSize?: number;
  /** Backoff cap after failures; kept low so watches resume soon after the server is back. */
  maxBackoffMs?: number;
  /** At most one failure line per this period while failures last. */
  logEveryMs?: number;
}

class Gone extends Error {}

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
  private resourceVersion = '';
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
    this.opts = { pageSize: opts.pageSize ?? DEFAULT_PAGE, maxBackoffMs: opts.maxBackoffMs ?? 2000, logEveryMs: opts.logEveryMs ?? 30_000 };
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
        if (!this.resourceVersion) {
          const afterFailure = this.failures > 0 || this.synced;
          await this.relist();
          this.recovered();
          if (!this.synced) {
            this.synced = true;
            firstSynced();
          } else if (afterFailure) this.onRelist?.();
        }
        await this.watch();
      } catch (err) {
        if (this.isStopped()) break;
        if (err instanceof Gone || httpStatus(err) === 410) {
          // Too old to resume from: list afresh, at once.
          this.log.info({ informer: this.name }, 'resourceVersion expired (410); listing again');
          this.resourceVersion = '';
          continue;
        }
        this.failed(err);
        await this.wait(this.backoff(err));
      }
    }
    firstSynced();
  }

  /** A method, so the compiler does not assume it unchanged across awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  /** Pages through the whole collection; objects it no longer contains are deleted from the cache. */
  private async relist(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      // By namespace, then name: the objects' own strings, no `namespace/name` key per object
      // (at 150,000 pods such keys were ~10 MB for the length of a list).
      const seen = new Map<string, Set<string>>();
      let token: string | undefined;
      let listedAt: string;
      try {
        do {
          const page = await this.source.list(this.opts.pageSize, token);
          for (const raw of page.items) {
            const { name = '', namespace = '' } = this.upsert(this.source.transform(raw)).metadata ?? {};
            let names = seen.get(namespace);
            if (!names) seen.set(namespace, (names = new Set()));
            names.add(name);
          }
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
      for (const [namespace, objs] of this.objects) {
        const names = seen.get(namespace);
        for (const [name, obj] of objs) {
          if (names?.has(name)) continue;
          objs.delete(name);
          this.onObject(obj, 'delete');
        }
        if (objs.size === 0) this.objects.delete(namespace);
      }
      this.resourceVersion = listedAt;
      return;
    }
  }

  private async watch(): Promise<void> {
    this.stream = await this.source.watch(this.resourceVersion, (type, raw) => {
      this.event(type, raw);
    });
    if (this.stopped) {
      this.stream.stop();
      return;
    }
    this.recovered();
    await this.stream.ended;
  }

  private event(type: string, raw: unknown): void {
    if (type === 'ERROR') {
      const status = raw as { code?: number; message?: string } | undefined;
      if (status?.code === 410) throw new Gone(status.message ?? 'Gone');
      throw new Error(`watch error from the API server: ${status?.message ?? JSON.stringify(raw)}`);
    }
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
