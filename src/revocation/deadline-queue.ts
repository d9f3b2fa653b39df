// One timer for the earliest deadline of many: a binary min-heap keyed by time, with
// lazy deletion. Rescheduling a key replaces its deadline; due keys are handed to
// `onDue` in deadline order. No polling: between deadlines nothing runs.
import type { Clock } from '../runtime/clock.ts';

interface Entry {
  key: string;
  at: number;
  seq: number;
}

export class DeadlineQueue {
  private heap: Entry[] = [];
  private readonly current = new Map<string, Entry>();
  private seq = 0;
  private armedAt: number | undefined;
  private cancelTimer: (() => void) | undefined;
  private stopped = false;

  private readonly clock: Clock;
  private readonly onDue: (key: string, at: number) => void;

  constructor(clock: Clock, onDue: (key: string, at: number) => void) {
    this.clock = clock;
    this.onDue = onDue;
  }

  schedule(key: string, at: number): void {
    // A reconcile still finishing after stop() must not arm a timer that acts later.
    if (this.stopped) return;
    const existing = this.current.get(key);
    if (existing?.at === at) return;
    const entry = { key, at, seq: this.seq++ };
    this.current.set(key, entry);
    this.push(entry);
    this.arm();
  }

  cancel(key: string): void {
    this.current.delete(key);
  }

  get size(): number {
    return this.current.size;
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.armedAt = undefined;
    this.heap = [];
    this.current.clear();
  }

  private live(e: Entry): boolean {
    return this.current.get(e.key) === e;
  }

  private arm(): void {
    while (this.heap.length > 0 && !this.live(this.heap[0] as Entry)) this.pop();
    const first = this.heap[0];
    if (!first) {
      this.cancelTimer?.();
      this.cancelTimer = undefined;
      this.armedAt = undefined;
      return;
    }
    if (this.armedAt === first.at) return;
    this.cancelTimer?.();
    this.armedAt = first.at;
    this.cancelTimer = this.clock.setTimer(() => {
      this.fire();
    }, first.at - this.clock.now());
  }

  private fire(): void {
    this.armedAt = undefined;
    this.cancelTimer = undefined;
    const now = this.clock.now();
    const due: Entry[] = [];
    while (this.heap.length > 0 && (this.heap[0] as Entry).at <= now) {
      const e = this.pop();
      if (e && this.live(e)) {
        this.current.delete(e.key);
        due.push(e);
      }
    }
    this.arm();
    for (const e of due) this.onDue(e.key, e.at);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(h[i] as Entry, h[parent] as Entry)) break;
      [h[i], h[parent]] = [h[parent] as Entry, h[i] as Entry];
      i = parent;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l] as Entry, h[m] as Entry)) m = l;
        if (r < h.length && less(h[r] as Entry, h[m] as Entry)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Entry, h[i] as Entry];
        i = m;
      }
    }
    return top;
  }
}

function less(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
