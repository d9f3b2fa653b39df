// Time as a parameter: the deadline timer and queues take a Clock so tests drive time by hand.
export interface Clock {
  now(): number;
  /** Runs fn once after delayMs; returns a cancel function. */
  setTimer(fn: () => void, delayMs: number): () => void;
}

/** setTimeout stores its delay in a signed 32-bit int: longer delays fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, delayMs) {
    let timer: NodeJS.Timeout;
    const arm = (remaining: number): void => {
      // Longer waits are chained in steps, each within setTimeout's range.
      const step = Math.min(Math.max(0, remaining), MAX_TIMER_MS);
      timer = setTimeout(() => {
        if (remaining > step) arm(remaining - step);
        else fn();
      }, step);
      timer.unref();
    };
    arm(delayMs);
    return () => {
      clearTimeout(timer);
    };
  },
};

/**
 * Whether `work` settles (either way) within `ms` on `clock`. Nothing is cancelled: a caller
 * that gets false abandons the work (e.g. stop() past its grace period).
 */
export async function settlesWithin(clock: Clock, ms: number, work: Promise<unknown>): Promise<boolean> {
  let cancel = (): void => undefined;
  const late = new Promise<false>((resolve) => {
    cancel = clock.setTimer(() => {
      resolve(false);
    }, ms);
  });
  try {
    return await Promise.race([work.then(ok, ok), late]);
  } finally {
    cancel();
  }
}

const ok = (): true => true;

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    clock.setTimer(resolve, ms);
  });
}
