import { describe, expect, it } from '@jest/globals';
import { Semaphore } from '../../bench/semaphore.ts';

async function hops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe('bench Semaphore', () => {
  // A caller that arrives between a run's release and its woken waiter's resumption must wait:
  // the microtask distance between the two is not known, so every distance up to 12 hops is tried.
  it.each(Array.from({ length: 12 }, (_, hop) => hop))('never runs more than its limit (a caller %i microtask hops after a release)', async (hop) => {
    const semaphore = new Semaphore(1);
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const task = (): Promise<void> =>
      semaphore.run(async () => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
      });
    const runs = [task(), task()];
    await hops(5);
    expect(releases).toHaveLength(1);
    releases.shift()?.();
    runs.push(hops(hop).then(task));
    await hops(30);
    while (releases.length > 0) {
      releases.shift()?.();
      await hops(30);
    }
    await Promise.all(runs);
    expect(most).toBe(1);
  });
});
