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
  failWatch: (() => Error | undefined) | undefined;
  watches: { rv: string; emit: (type: string, o: unknown) => void; end: (err?: Error) => void }[] = [];

  list(limit: number, token: string | undefined): Promise<ListPage> {
    this.listCalls.push({ limit, token });
    const failure = this.failList?.(token);
    if (failure) return Promise.reject(failure);
    const start = Number(token ?? 0);
    const next = start + limit < this.items.length ? String(start + limit) : undefined;
    return Promise.resolve({ items: this.items.slice(start, start + limit), resourceVersion: '100', continueToken: next });
  }

  watch(rv: string, onEvent: (type: string, o: unknown) => void): Promise<WatchStream> {
    const failure = this.failWatch?.();
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
    this.watches.push({ rv, emit, end });
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

function setup(opts: { pageSize?: number } = {}) {
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
    { pageSize: opts.pageSize ?? 2 },
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
