// A keyed work queue in the manner of client-go's: events only add keys, duplicates
// collapse, one key is processed by one worker at a time (a key added while it is being
// processed runs again afterwards), and failures come back after a capped, jittered backoff.
import { retryDelay } from './backoff.ts';
import type { Clock } from './clock.ts';

export type Handler = (key: string) => Promise<void>;

export interface WorkQueueOptions {
  workers: number;
  clock: Clock;
  baseDelayMs?: number;
  maxDelayMs?: number;
  onError?: (key: string, err: unknown, attempt: number) => void;
  /** The delay before retrying after `err`, when it is not the usual backoff (e.g. a permanent error: minutes). */
  retryDelay?: (err: unknown, attempt: number) => number | undefined;
}

/** First in, first out, with O(1) amortized take (Array#shift is O(n): draining a large queue is quadratic). */
class Fifo {
  private items: (string | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(key: string): void {
    this.items.push(key);
  }

  take(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const key = this.items[this.head];
    this.items[this.head++] = undefined;
    // Drop the consumed prefix once it is most of the array.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export class WorkQueue {
  private readonly pending = new Fifo();
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; cancel: () => void }>();
  private readonly idleWaiters: (() => void)[] = [];
  private running = 0;
  private stopped = false;
  private paused = false;

  private readonly handler: Handler;
  private readonly opts: WorkQueueOptions;

  constructor(handler: Handler, opts: WorkQueueOptions) {
    this.handler = handler;
    this.opts = opts;
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.pending.push(key);
    this.pump();
  }

  /** Adds the key after `delayMs`, unless an earlier delayed add is already due sooner. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.opts.clock.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    const cancel = this.opts.clock.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { at, cancel });
  }

  /** The keys being processed now. */
  get inProgress(): string[] {
    return [...this.processing];
  }

  get length(): number {
    return this.pending.size + this.processing.size;
  }

  /** Resolves once nothing is queued or running (delayed adds not counted). */
  idle(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** While paused, keys collect (deduplicated) but none is processed. */
  pause(paused: boolean): void {
    this.paused = paused;
    if (!paused) this.pump();
  }

  stop(): void {
    this.stopped = true;
    for (const d of this.delayed.values()) d.cancel();
    this.delayed.clear();
    this.pending.clear();
    this.queued.clear();
  }

  private pump(): void {
    while (this.running < this.opts.workers && !this.stopped && !this.paused) {
      // A pending key is never being processed: add() marks those dirty instead of queueing them.
      const key = this.pending.take();
      if (key === undefined) break;
      this.queued.delete(key);
      this.processing.add(key);
      this.running++;
      void this.process(key);
    }
    if (this.length === 0 && !this.paused) for (const w of this.idleWaiters.splice(0)) w();
  }

  private async process(key: string): Promise<void> {
    try {
      await this.handler(key);
      this.failures.delete(key);
    } catch (err) {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      this.opts.onError?.(key, err, attempt);
      this.addAfter(key, this.opts.retryDelay?.(err, attempt) ?? this.backoff(err, attempt));
    } finally {
      this.processing.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }

  private backoff(err: unknown, attempt: number): number {
    return retryDelay(err, attempt, { baseMs: this.opts.baseDelayMs ?? 100, maxMs: this.opts.maxDelayMs ?? 30_000, jitter: Math.random });
  }
}
