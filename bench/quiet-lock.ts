// The team's quiet lock (a flock file, BENCH_QUIET_LOCK): held shared while the bench fills and
// prepares, exclusive only while it measures a latency a target judges, so a long fill does
// not hold everyone's tests. A hold is a `flock` child process that keeps the lock until its
// stdin closes; switching modes releases the one hold before taking the other (one process's
// shared hold would otherwise block its own exclusive one). An exclusive waiter holds a gate
// (the lock's path + `.gate`) while it waits and a shared taker passes that gate first, so
// exclusive waiters are not starved by shared holds that overlap. Without BENCH_QUIET_LOCK
// nothing is taken.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

type Mode = 'shared' | 'exclusive';

export class QuietLock {
  private held: { mode: Mode; release(): Promise<void> } | undefined;
  private readonly path = process.env.BENCH_QUIET_LOCK;
  private readonly say: (m: string) => void;

  constructor(say: (m: string) => void) {
    this.say = say;
  }

  /** Holds the lock in `mode` (waiting for it), after giving up any other hold. */
  async take(mode: Mode): Promise<void> {
    if (!(await this.tryTake(mode))) throw new Error(`flock ${mode} ${String(this.path)} was not taken`);
  }

  /**
   * As take(), waiting at most `waitSeconds` (flock -w); false when it was not taken then, and
   * then nothing is held. A shared hold that lasts (a CI run holds one for its whole length)
   * still keeps an exclusive waiter out: a bench may measure under the shared lock instead,
   * and say so beside its figures.
   */
  async tryTake(mode: Mode, waitSeconds?: number): Promise<boolean> {
    if (!this.path || this.held?.mode === mode) return true;
    await this.release();
    const started = Date.now();
    const wait = waitSeconds === undefined ? [] : ['-w', String(waitSeconds)];
    const gate = `${this.path}.gate`;
    const hold = `"$@" "$p" -c 'echo held; exec cat >/dev/null'`;
    const script =
      mode === 'shared'
        ? `g=$1 p=$2; shift 2; flock -s "$@" "$g" true && exec flock -s ${hold}`
        : `g=$1 p=$2; shift 2; exec flock -x "$@" "$g" flock -x ${hold}`;
    const child = spawn('sh', ['-c', script, 'quiet-lock', gate, this.path, ...wait], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    const held = await new Promise<boolean>((resolve) => {
      child.stdout.once('data', () => {
        resolve(true);
      });
      child.once('exit', () => {
        resolve(false);
      });
    });
    if (!held) {
      this.say(`quiet lock not held ${mode} after ${String(Math.round((Date.now() - started) / 1000))} s`);
      return false;
    }
    this.say(`quiet lock held ${mode} (waited ${String(Math.round((Date.now() - started) / 1000))} s)`);
    this.held = {
      mode,
      release: async () => {
        child.stdin.end();
        await exited;
      },
    };
    return true;
  }

  /** What is held now (undefined: nothing, or no BENCH_QUIET_LOCK). */
  get mode(): Mode | undefined {
    return this.held?.mode;
  }

  async release(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    await held?.release();
  }
}
