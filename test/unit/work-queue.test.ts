import { ApiError } from '../../src/kube/api-error.ts';
import { WorkQueue } from '../../src/runtime/work-queue.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { FakeClock } from '../support/fake-clock.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  test('duplicates collapse and one key never runs on two workers at once', async () => {
    const running = new Set<string>();
    const seen: string[] = [];
    let overlap = false;
    const q = new WorkQueue(
      async (k) => {
        if (running.has(k)) overlap = true;
        running.add(k);
        seen.push(k);
        await new Promise((r) => setTimeout(r, 5));
        running.delete(k);
      },
      { workers: 4, clock: systemClock },
    );
    q.add('a');
    q.add('a');
    q.add('b');
    await tick();
    q.add('a'); // while a runs: runs once more afterwards
    q.add('a');
    await q.idle();
    expect(overlap).toBe(false);
    expect(seen.filter((k) => k === 'a')).toHaveLength(2);
    expect(seen.filter((k) => k === 'b')).toHaveLength(1);
  });

  test('a failure comes back after a backoff that grows and is capped', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const errors: number[] = [];
    const q = new WorkQueue(
      () => {
        calls++;
        return Promise.reject(new Error('boom'));
      },
      { workers: 1, clock, baseDelayMs: 100, maxDelayMs: 1000, onError: (_k, _e, attempt) => errors.push(attempt) },
    );
    q.add('k');
    await tick();
    expect(calls).toBe(1);
    for (let i = 0; i < 8; i++) {
      clock.advance(1000);
      await tick();
    }
    expect(calls).toBeGreaterThanOrEqual(5);
    expect(errors.slice(0, 3)).toEqual([1, 2, 3]);
    expect(Math.max(...clock.requestedDelays)).toBeLessThanOrEqual(1000);
    expect(clock.requestedDelays[0]).toBeLessThanOrEqual(100);
  });

  test('retryDelay overrides the backoff (a permanent error waits minutes, not milliseconds)', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const q = new WorkQueue(
      () => {
        calls++;
        return Promise.reject(new Error('forbidden'));
      },
      { workers: 1, clock, retryDelay: () => 300_000 },
    );
    q.add('k');
    await tick();
    expect(clock.requestedDelays).toEqual([300_000]);
    clock.advance(299_999);
    await tick();
    expect(calls).toBe(1);
    clock.advance(1);
    await tick();
    expect(calls).toBe(2);
  });

  test('a 429 comes back no sooner than its Retry-After asks (with jitter), not after the 100 ms backoff', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const throttled = new ApiError(429, 'HTTP 429', { kind: 'Status', reason: 'TooManyRequests' }, { 'retry-after': '2' });
    const q = new WorkQueue(
      () => {
        calls++;
        return calls === 1 ? Promise.reject(throttled) : Promise.resolve();
      },
      { workers: 1, clock },
    );
    q.add('k');
    await tick();
    expect(clock.requestedDelays).toHaveLength(1);
    expect(clock.requestedDelays[0]).toBeGreaterThanOrEqual(2000);
    expect(clock.requestedDelays[0]).toBeLessThanOrEqual(3000);
    clock.advance(1999);
    await tick();
    expect(calls).toBe(1);
    clock.advance(1001);
    await tick();
    expect(calls).toBe(2);
  });

  test('paused queues collect keys and process them on resume', async () => {
    const seen: string[] = [];
    const q = new WorkQueue(
      (k) => {
        seen.push(k);
        return Promise.resolve();
      },
      { workers: 2, clock: systemClock },
    );
    q.pause(true);
    q.add('x');
    q.add('y');
    q.add('x');
    await tick();
    expect(seen).toEqual([]);
    q.pause(false);
    await q.idle();
    expect(seen.sort()).toEqual(['x', 'y']);
  });

  test('keys run in the order they were added, across many thousands (the FIFO compacts as it drains)', async () => {
    const seen: string[] = [];
    const q = new WorkQueue(
      (k) => {
        seen.push(k);
        return Promise.resolve();
      },
      { workers: 1, clock: systemClock },
    );
    q.pause(true);
    const keys = Array.from({ length: 5000 }, (_, i) => `ns/pod-${String(i)}`);
    for (const k of keys) q.add(k);
    for (const k of keys.slice(0, 100)) q.add(k); // duplicates of queued keys collapse
    expect(q.length).toBe(5000);
    q.pause(false);
    await q.idle();
    expect(seen).toEqual(keys);
    q.add('late');
    await q.idle();
    expect(seen.at(-1)).toBe('late');
  });
});
