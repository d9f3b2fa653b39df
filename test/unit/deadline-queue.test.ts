import { DeadlineQueue } from '../../src/revocation/deadline-queue.ts';
import { MAX_TIMER_MS, systemClock } from '../../src/runtime/clock.ts';
import { FakeClock } from '../support/fake-clock.ts';

describe('DeadlineQueue', () => {
  test('fires each key at its deadline, in order, with one timer armed at a time', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const q = new DeadlineQueue(clock, (k) => fired.push(`${k}@${clock.now() - Date.parse('2026-11-23T10:00:00Z')}`));
    const t = clock.now();
    q.schedule('c', t + 300);
    q.schedule('a', t + 100);
    q.schedule('b', t + 200);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(150);
    expect(fired).toEqual(['a@100']);
    clock.advance(1000);
    expect(fired).toEqual(['a@100', 'b@200', 'c@300']);
    expect(q.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  test('rescheduling replaces a deadline, cancel drops it, same-time keys all fire', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const q = new DeadlineQueue(clock, (k) => fired.push(k));
    const t = clock.now();
    q.schedule('x', t + 100);
    q.schedule('x', t + 500);
    q.schedule('y', t + 200);
    q.cancel('y');
    for (let i = 0; i < 1000; i++) q.schedule(`burst-${String(i)}`, t + 300);
    clock.advance(299);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toHaveLength(1000);
    clock.advance(200);
    expect(fired.at(-1)).toBe('x');
    expect(fired).not.toContain('y');
  });

  test('after stop nothing is scheduled or fires', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const q = new DeadlineQueue(clock, (k) => fired.push(k));
    q.schedule('a', clock.now() + 10);
    q.stop();
    q.schedule('b', clock.now() + 20);
    clock.advance(100);
    expect(fired).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  test('a deadline already past fires on the next tick', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const q = new DeadlineQueue(clock, (k) => fired.push(k));
    q.schedule('late', clock.now() - 5000);
    clock.advance(0);
    expect(fired).toEqual(['late']);
  });

  test('a deadline beyond setTimeout range does not fire early', async () => {
    // The real clock chains timers past 2^31-1 ms; with fake timers we can jump there.
    const { jest } = await import('@jest/globals');
    jest.useFakeTimers({ now: 0 });
    try {
      const fired: number[] = [];
      const q = new DeadlineQueue(systemClock, (_k, at) => fired.push(at));
      const far = MAX_TIMER_MS * 2 + 10;
      q.schedule('far', far);
      jest.advanceTimersByTime(MAX_TIMER_MS + 1);
      expect(fired).toEqual([]);
      jest.advanceTimersByTime(MAX_TIMER_MS);
      expect(fired).toEqual([]);
      jest.advanceTimersByTime(20);
      expect(fired).toEqual([far]);
    } finally {
      jest.useRealTimers();
    }
  });
});
