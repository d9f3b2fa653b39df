// Two lanes for API requests: the urgent lane starts at once, up to a limit; the normal lane
// starts only while no urgent request is queued or in flight. The mechanism only: which
// requests are urgent, and why, is src/revocation/lanes.ts.
import type { KubeApi } from './client.ts';
import { wrapCalls } from './wrap-calls.ts';

export type Lane = 'urgent' | 'normal';

/** A request planned against the clock refused to start (or failed): its deadline passed while it waited (or was in flight). */
export class DeadlinePassedError extends Error {
  constructor(deadline: number, options?: ErrorOptions) {
    super(`${options?.cause === undefined ? 'refused to send' : 'gave up'}: its deadline ${new Date(deadline).toISOString()} has passed`, options);
    this.name = 'DeadlinePassedError';
  }
}

export class RequestLanes {
  private urgentRunning = 0;
  private readonly urgentWaiting: (() => void)[] = [];
  private readonly normalWaiting: (() => void)[] = [];
  private readonly urgentLimit: number;

  constructor(urgentLimit: number) {
    this.urgentLimit = urgentLimit;
  }

  /** Urgent requests queued or in flight. */
  get urgentPending(): number {
    return this.urgentRunning + this.urgentWaiting.length;
  }

  /** Runs `send` in a lane; `beforeSend` runs at the moment it may start (it may throw to refuse). */
  async run<T>(lane: Lane, send: () => Promise<T>, beforeSend?: () => void): Promise<T> {
    if (lane === 'normal') {
      while (this.urgentPending > 0) await new Promise<void>((resolve) => this.normalWaiting.push(resolve));
      beforeSend?.();
      return send();
    }
    if (this.urgentRunning < this.urgentLimit) this.urgentRunning++;
    else await new Promise<void>((resolve) => this.urgentWaiting.push(resolve)); // the slot is handed over
    try {
      beforeSend?.();
      return await send();
    } finally {
      const next = this.urgentWaiting.shift();
      if (next) next();
      else if (--this.urgentRunning === 0) for (const resume of this.normalWaiting.splice(0)) resume();
    }
  }

  /** The API with every request in `lane`; `beforeSend` as in run(). Watches are streams, not requests: untouched. */
  view(api: KubeApi, lane: Lane, beforeSend?: () => void): KubeApi {
    return wrapCalls(api, (_operation, _args, send) => this.run(lane, send, beforeSend));
  }

  /** The normal lane, refusing any request that would start at or after `deadline`. */
  until(api: KubeApi, deadline: number, now: () => number): KubeApi {
    return this.view(api, 'normal', () => {
      if (now() >= deadline) throw new DeadlinePassedError(deadline);
    });
  }
}
