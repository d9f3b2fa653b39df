// Whatever the operator awaits settles, whatever throws on the way: a promise left pending holds
// a reconcile (and with it the grant's activation or revocation) and the operator's stop()
// forever. Each case here failed (never settled) on the code before its fix.
import { IndexWriter } from '../../src/controller/index-writer.ts';
import { INDEX_NAME } from '../../src/api/names.ts';
import type { DebugGrantIndex, IndexChange } from '../../src/api/grant-index.ts';
import { makeLogger } from '../../src/log.ts';
import type { Cache } from '../../src/runtime/cache.ts';
import { firstDeletion } from '../../src/revocation/revoke-binding.ts';
import { settlesWithin } from '../../src/runtime/clock.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { RecordingApi } from '../support/recording-api.ts';

/** Settled within `ms` of real time: 'resolved', 'rejected: message', or 'pending'. */
async function settledWithin(p: Promise<unknown>, ms = 1000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<string>((resolve) => {
    timer = setTimeout(() => {
      resolve('pending');
    }, ms);
  });
  try {
    return await Promise.race([
      p.then(
        () => 'resolved',
        (err: unknown) => `rejected: ${err instanceof Error ? err.message : String(err)}`,
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('IndexWriter', () => {
  const entry: IndexChange = {
    kind: 'upsert',
    entry: {
      grant: 'g',
      uid: 'u1',
      username: 'alice',
      group: '',
      pods: ['web-1'],
      image: 'img',
      profile: 'restricted',
      activatedAt: '2026-11-23T10:00:00Z',
      expiresAt: '2026-11-23T11:00:00Z',
      access: ['debug'],
    },
  };

  test('a batch whose preparation throws (reading the cached index) fails its callers, and the next change is written', async () => {
    const rec = new RecordingApi();
    let broken = true;
    const indexes: Cache<DebugGrantIndex> = {
      get: (name, namespace) => {
        if (broken) throw new Error('cache read failed');
        return rec.caches.indexes.get(name, namespace);
      },
      list: (namespace) => rec.caches.indexes.list(namespace),
    };
    const writer = new IndexWriter({
      api: rec.api,
      indexes,
      retentionMs: 3_600_000,
      histories: rec.caches.histories,
      home: 'debuggrant-system',
      log: makeLogger('silent'),
    });
    const now = new Date('2026-11-23T10:00:00Z');
    // Before: the batch was taken, the throw escaped drain() before its try, and the caller waited forever.
    expect(await settledWithin(writer.change('shop', entry, now))).toBe('rejected: cache read failed');
    broken = false;
    expect(await settledWithin(writer.change('shop', entry, now))).toBe('resolved');
    expect(rec.only('debuggrantindexes')).toEqual([`create debuggrantindexes shop/${INDEX_NAME}`]);
  });
});

describe('settlesWithin', () => {
  test('true once the work settles either way, false when the time passes first', async () => {
    const clock = new FakeClock();
    expect(await settlesWithin(clock, 1000, Promise.reject(new Error('refused')))).toBe(true);
    const late = settlesWithin(clock, 1000, new Promise(() => undefined));
    clock.advance(999);
    expect(await settledWithin(late, 50)).toBe('pending');
    clock.advance(1);
    expect(await late).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('firstDeletion (the revocation delete and its hedged attempts)', () => {
  test('an attempt whose send throws at once counts as one without an answer: the next goes out and the deletion settles', async () => {
    const clock = new FakeClock();
    const pending: { resolve: (deleted: boolean) => void; reject: (err: unknown) => void }[] = [];
    let sent = 0;
    const deletion = firstDeletion({
      clock,
      attempts: 3,
      hedgeAfterMs: 500,
      freshConnection: () => undefined,
      send: () => {
        sent++;
        // Before: thrown out of the hedge timer, with the attempt counted in flight forever.
        if (sent === 2) throw new Error('could not send');
        return new Promise<boolean>((resolve, reject) => pending.push({ resolve, reject }));
      },
    });
    clock.advance(500);
    pending[0]?.reject(new Error('no answer within 10000 ms'));
    await new Promise((r) => setImmediate(r));
    expect(sent).toBe(3);
    pending[1]?.resolve(true);
    expect(await settledWithin(deletion)).toBe('resolved');
  });
});
