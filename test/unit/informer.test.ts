import { Writable } from 'node:stream';
import { ApiError } from '../../src/kube/api-error.ts';
import { makeLogger } from '../../src/log.ts';
import { ResilientInformer, type ListPage, type ListWatchSource, type WatchStream } from '../../src/runtime/informer.ts';
import { FakeClock } from '../support/fake-clock.ts';

interface Obj {
  metadata: { name: string; namespace: string; resourceVersion: string };
}
const obj = (name: string, rv: string): Obj => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });
const tick = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** A source whose list and watch behave as each test scripts them. */
class ScriptedSource implements ListWatchSource<Obj> {
  readonly server = 'https://api.example:6443';
  items: Obj[] = [];
  listCalls: { limit: number; token: string | undefined }[] = [];
  failList: ((token: string | undefined) => Error | undefined) | undefined;
  failWatch: ((initialEvents: boolean) => Error | undefined) | undefined;
  watches: { rv: string; initialEvents: boolean; emit: (type: string, o: unknown) => void; end: (err?: Error) => void }[] = [];

  list(limit: number, token: string | undefined): Promise<ListPage> {
    this.listCalls.push({ limit, token });
    const failure = this.failList?.(token);
    if (failure) return Promise.reject(failure);
    const start = Number(token ?? 0);
    const next = start + limit < this.items.length ? String(start + limit) : undefined;
    return Promise.resolve({ items: this.items.slice(start, start + limit), resourceVersion: '100', continueToken: next });
  }

  watch(rv: string, onEvent: (type: string, o: unknown) => void, opts?: { initialEvents: boolean }): Promise<WatchStream> {
    const failure = this.failWatch?.(opts?.initialEvents ?? false);
    if (failure) return Promise.reject(failure);
    let end: (err?: Error) => void = () => undefined;
    const ended = new Promise<void>((resolve, reject) => {
      end = (err) => {
        if (err) reject(err);
        else resolve();
      };
    });
    const emit = (type: string, o: unknown) => {
      try {
        onEvent(type, o);
      } catch (err) {
        end(err as Error);
      }
    };
    this.watches.push({ rv, initialEvents: opts?.initialEvents ?? false, emit, end });
    return Promise.resolve({
      ended,
      stop: () => {
        end();
      },
    });
  }

  transform = (raw: unknown): Obj => raw as Obj;
  describe = (err: unknown): string => `connection refused (${this.server}): ${err instanceof Error ? err.message : String(err)}`;
}

function setup(opts: { pageSize?: number; initialList?: 'stream' | 'pages' } = {}) {
  const clock = new FakeClock();
  const source = new ScriptedSource();
  const lines: Record<string, unknown>[] = [];
  const log = makeLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _e, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    }),
  );
  const events: string[] = [];
  let relists = 0;
  const informer = new ResilientInformer<Obj>(
    'pods',
    source,
    clock,
    log,
    (o, e) => events.push(`${e} ${o.metadata.name}`),
    () => {
      relists++;
    },
    { pageSize: opts.pageSize ?? 2, initialList: opts.initialList ?? 'pages' },
  );
  return { clock, source, lines, events, informer, relists: () => relists };
}

describe('ResilientInformer', () => {
  test('lists in pages, then watches from the list resourceVersion; events update the cache', async () => {
    const { source, informer, events } = setup({ pageSize: 2 });
    source.items = ['a', 'b', 'c', 'd', 'e'].map((n) => obj(n, '1'));
    await informer.start();
    expect(source.listCalls).toEqual([
      { limit: 2, token: undefined },
      { limit: 2, token: '2' },
      { limit: 2, token: '4' },
    ]);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    await tick();
    expect(source.watches[0]?.rv).toBe('100');
    expect(informer.ready).toBe(true);
    source.watches[0]?.emit('MODIFIED', obj('a', '101'));
    source.watches[0]?.emit('DELETED', obj('b', '102'));
    source.watches[0]?.emit('BOOKMARK', { metadata: { resourceVersion: '150' } });
    expect(informer.get('a', 'ns')?.metadata.resourceVersion).toBe('101');
    expect(informer.get('b', 'ns')).toBeUndefined();
    expect(events.slice(5)).toEqual(['update a', 'delete b']);
    // The server ends the watch (its timeout): resumed from the last resourceVersion seen, no list.
    source.watches[0]?.end();
    await tick();
    expect(source.watches[1]?.rv).toBe('150');
    expect(source.listCalls).toHaveLength(3);
    await informer.stop();
  });

  test('a continue token that expired (410) mid-list starts a fresh list; nothing is lost or duplicated', async () => {
    const { source, informer, events, lines } = setup({ pageSize: 2 });
    source.items = ['a', 'b', 'c', 'd', 'e'].map((n) => obj(n, '1'));
    let failed = false;
    source.failList = (token) => {
      if (token === '2' && !failed) {
        failed = true;
        return new ApiError(410, 'Gone', { message: 'continue token expired' }, {});
      }
      return undefined;
    };
    await informer.start();
    expect(source.listCalls.map((c) => c.token)).toEqual([undefined, '2', undefined, '2', '4']);
    expect(informer.list()).toHaveLength(5);
    expect(events.filter((e) => e.startsWith('add'))).toHaveLength(5);
    expect(lines.some((l) => String(l.msg).includes('continue token expired'))).toBe(true);
    await informer.stop();
  });

  test('a 410 on the watch relists and deletes what disappeared meanwhile', async () => {
    const { source, informer, events } = setup({ pageSize: 10 });
    source.items = [obj('a', '1'), obj('b', '1')];
    await informer.start();
    await tick();
    source.items = [obj('a', '1')];
    source.watches[0]?.emit('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' });
    await tick();
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['a']);
    expect(events).toContain('delete b');
    expect(source.listCalls).toHaveLength(2);
    await informer.stop();
  });

  test('an unreachable server: one error line naming server and cause, not ready with the reason, backoff capped at 2 s, quick resume', async () => {
    const { source, informer, clock, lines } = setup();
    source.items = [obj('a', '1')];
    await informer.start();
    await tick();
    source.failWatch = () => Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' });
    source.watches[0]?.end(new Error('other side closed'));
    await tick();
    expect(informer.ready).toBe(false);
    expect(informer.notReadyReason).toMatch(/^pods: connection refused \(https:\/\/api\.example:6443\)/);
    // A minute of outage: retries keep coming, at most 2 s apart, and only a few lines are logged.
    const before = clock.requestedDelays.length;
    for (let t = 0; t < 60_000; t += 250) {
      clock.advance(250);
      await tick(2);
    }
    const delays = clock.requestedDelays.slice(before);
    expect(delays.length).toBeGreaterThan(25);
    expect(Math.max(...delays)).toBeLessThanOrEqual(2000);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.length).toBeLessThanOrEqual(3);
    expect(errors[0]).toMatchObject({ informer: 'pods', server: 'https://api.example:6443' });
    expect(String(errors[0]?.msg)).toContain('connection refused');
    expect(errors.every((l) => l.err === undefined && !JSON.stringify(l).includes('    at '))).toBe(true);
    // The server answers again: the next attempt (at most 2 s away) resumes the watch from where it was.
    source.failWatch = undefined;
    clock.advance(2000);
    await tick();
    expect(informer.ready).toBe(true);
    expect(source.watches.at(-1)?.rv).toBe('100');
    expect(lines.some((l) => l.msg === 'API server answers again; informer resumed')).toBe(true);
    // And the backoff starts small again on the next failure.
    const mark = clock.requestedDelays.length;
    source.watches.at(-1)?.end(new Error('reset'));
    await tick();
    expect(clock.requestedDelays[mark]).toBeLessThanOrEqual(200);
    await informer.stop();
  });

  test('a list that keeps failing at start keeps start() pending and says why', async () => {
    const { source, informer, clock } = setup();
    source.failList = () => new ApiError(403, 'Forbidden', { message: 'pods is forbidden: User "op" cannot list resource "pods"' }, {});
    let started = false;
    void informer.start().then(() => {
      started = true;
    });
    await tick();
    clock.advance(5000);
    await tick();
    expect(started).toBe(false);
    expect(informer.notReadyReason).toContain('pods: ');
    source.failList = undefined;
    clock.advance(2000);
    await tick();
    expect(started).toBe(true);
    await informer.stop();
  });
});

const endBookmark = (rv: string) => ({ metadata: { resourceVersion: rv, annotations: { 'k8s.io/initial-events-end': 'true' } } });
/** As the API server answers while its watch cache is behind etcd (storage.NewTooLargeResourceVersionError). */
const tooLarge = {
  kind: 'Status',
  code: 504,
  reason: 'Timeout',
  message: 'Too large resource version: 900, current: 850',
  details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 2 },
};
/** As an API server with the WatchList gate off answers (recorded from kube-apiserver 1.37 with --feature-gates=WatchList=false). */
const refused = () =>
  new ApiError(422, 'GET /api/v1/pods', {
    kind: 'Status',
    code: 422,
    reason: 'Invalid',
    message:
      'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
  });

describe('ResilientInformer: the initial list streamed (WatchList)', () => {
  test('no list request: the objects arrive as events, the informer is synced at the end bookmark, and that stream goes on as the watch', async () => {
    const { source, informer, events } = setup({ initialList: 'stream' });
    let started = false;
    void informer.start().then(() => {
      started = true;
    });
    await tick();
    expect(source.watches).toHaveLength(1);
    expect(source.watches[0]).toMatchObject({ rv: '', initialEvents: true });
    const initial = source.watches[0];
    for (const n of ['a', 'b', 'c']) initial?.emit('ADDED', obj(n, '5'));
    // An ordinary bookmark in the middle is not the end of the initial events.
    initial?.emit('BOOKMARK', { metadata: { resourceVersion: '7' } });
    await tick();
    expect(started).toBe(false);
    expect(informer.ready).toBe(false);
    initial?.emit('BOOKMARK', endBookmark('10'));
    await tick();
    expect(started).toBe(true);
    expect(informer.ready).toBe(true);
    expect(source.listCalls).toEqual([]);
    expect(events).toEqual(['add a', 'add b', 'add c']);
    initial?.emit('MODIFIED', obj('a', '11'));
    initial?.emit('DELETED', obj('b', '12'));
    expect(informer.get('a', 'ns')?.metadata.resourceVersion).toBe('11');
    expect(events.slice(3)).toEqual(['update a', 'delete b']);
    expect(source.watches).toHaveLength(1);
    // The server ends it (its timeout): an ordinary watch from the last resourceVersion, nothing listed again.
    initial?.end();
    await tick();
    expect(source.watches[1]).toMatchObject({ rv: '12', initialEvents: false });
    expect(source.listCalls).toEqual([]);
    await informer.stop();
  });

  test('a 410 on the watch streams again, not older than the last resourceVersion seen; what was not streamed is deleted', async () => {
    const { source, informer, events, relists } = setup({ initialList: 'stream' });
    void informer.start();
    await tick();
    source.watches[0]?.emit('ADDED', obj('a', '5'));
    source.watches[0]?.emit('ADDED', obj('b', '5'));
    source.watches[0]?.emit('BOOKMARK', endBookmark('10'));
    await tick();
    source.watches[0]?.emit('MODIFIED', obj('a', '20'));
    source.watches[0]?.emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 20 (30)' });
    await tick();
    expect(source.watches[1]).toMatchObject({ rv: '20', initialEvents: true });
    source.watches[1]?.emit('ADDED', obj('a', '20')); // unchanged: no handler call
    source.watches[1]?.emit('ADDED', obj('c', '25'));
    await tick();
    // Until the end bookmark nothing is known to be gone.
    expect(informer.get('b', 'ns')).toBeDefined();
    source.watches[1]?.emit('BOOKMARK', endBookmark('40'));
    await tick();
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['a', 'c']);
    expect(events).toEqual(['add a', 'add b', 'update a', 'add c', 'delete b']);
    expect(relists()).toBe(1);
    expect(informer.ready).toBe(true);
    expect(source.listCalls).toEqual([]);
    await informer.stop();
  });

  test('"Too large resource version" (the watch cache behind etcd): streams again from the most recent state after the retryAfterSeconds it gives, as no failure', async () => {
    const { source, informer, clock, lines } = setup({ initialList: 'stream' });
    void informer.start();
    await tick();
    source.watches[0]?.emit('ADDED', obj('a', '5'));
    source.watches[0]?.emit('BOOKMARK', endBookmark('10'));
    await tick();
    source.watches[0]?.emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });
    await tick();
    // The stream from the last resourceVersion is refused: the cache has not reached it.
    source.watches[1]?.emit('ERROR', tooLarge);
    await tick();
    expect(source.watches).toHaveLength(2);
    expect(clock.requestedDelays.at(-1)).toBe(2000);
    clock.advance(1999);
    await tick();
    expect(source.watches).toHaveLength(2);
    clock.advance(1);
    await tick();
    expect(source.watches[2]).toMatchObject({ rv: '', initialEvents: true });
    source.watches[2]?.emit('BOOKMARK', endBookmark('50'));
    await tick();
    expect(informer.ready).toBe(true);
    expect(informer.list()).toEqual([]);
    expect(lines.filter((l) => l.level === 50)).toEqual([]);
    expect(lines.some((l) => String(l.msg).includes('Too large resource version'))).toBe(true);
    // Synced: the next stream asks from the last resourceVersion again, not from the most recent state.
    source.watches[2]?.emit('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' });
    await tick();
    expect(source.watches[3]).toMatchObject({ rv: '50', initialEvents: true });
    await informer.stop();
  });

  test('an API server that refuses to stream (422, WatchList gate off): listed in pages, and from then on, also after a 410', async () => {
    const { source, informer, lines } = setup({ initialList: 'stream', pageSize: 2 });
    source.items = ['a', 'b', 'c'].map((n) => obj(n, '1'));
    source.failWatch = (initialEvents) => (initialEvents ? refused() : undefined);
    await informer.start();
    expect(source.listCalls).toHaveLength(2);
    expect(informer.list()).toHaveLength(3);
    expect(informer.ready).toBe(true);
    await tick();
    expect(source.watches).toMatchObject([{ rv: '100', initialEvents: false }]);
    expect(lines.filter((l) => String(l.msg).includes('does not stream initial lists'))).toHaveLength(1);
    expect(lines.filter((l) => l.level === 50)).toEqual([]);
    source.watches[0]?.emit('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' });
    await tick();
    expect(source.listCalls).toHaveLength(4);
    expect(source.watches.map((w) => w.initialEvents)).toEqual([false, false]);
    await informer.stop();
  });

  test('streams cut before the end bookmark: streamed again after a backoff; after three in a row, one paged list, then streams again', async () => {
    const { source, informer, clock } = setup({ initialList: 'stream', pageSize: 10 });
    source.items = [obj('a', '1'), obj('b', '1')];
    let started = false;
    void informer.start().then(() => {
      started = true;
    });
    await tick();
    source.watches[0]?.emit('ADDED', obj('a', '1'));
    source.watches[0]?.end(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    await tick();
    expect(informer.notReadyReason).toContain('other side closed');
    clock.advance(2000);
    await tick();
    // The server ended the second one (its timeout) before the end bookmark.
    expect(source.watches[1]).toMatchObject({ initialEvents: true });
    source.watches[1]?.end();
    await tick();
    expect(informer.notReadyReason).toContain('ended the initial events before their end bookmark');
    clock.advance(2000);
    await tick();
    expect(source.listCalls).toEqual([]);
    source.watches[2]?.end(new Error('watch sent nothing for 150 s (stalled connection)'));
    await tick();
    expect(started).toBe(true);
    expect(source.listCalls).toHaveLength(1);
    expect(informer.list()).toHaveLength(2);
    expect(source.watches[3]).toMatchObject({ rv: '100', initialEvents: false });
    source.watches[3]?.emit('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' });
    await tick();
    expect(source.watches[4]).toMatchObject({ rv: '100', initialEvents: true });
    await informer.stop();
  });

  test('stop() during the initial events ends start() and opens nothing more', async () => {
    const { source, informer } = setup({ initialList: 'stream' });
    const started = informer.start();
    await tick();
    source.watches[0]?.emit('ADDED', obj('a', '1'));
    await informer.stop();
    await started;
    await tick();
    expect(source.watches).toHaveLength(1);
    expect(source.listCalls).toEqual([]);
  });
});
