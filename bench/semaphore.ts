// Bounds how many of something run at once (e.g. API calls in a burst of expiries).
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    // A woken waiter takes over the releasing run's slot (active is not decremented for it):
    // waking it and decrementing let a caller arriving before the waiter resumed take the same
    // slot, one run over the limit per release.
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
