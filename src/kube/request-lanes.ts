// Two lanes for API requests: the urgent lane starts at once, up to a limit; the normal lane
// starts only while no urgent request is queued or in flight. The mechanism only: which
// requests are urgent, and why, is src/revocation/lanes.ts.
//
// What a request's deadline means depends on its lane. An urgent request (a RoleBinding delete
// that ends access) waits for its slot however long it takes: it must not be dropped, and its
// caller hedges it with further attempts (src/revocation/revoke-binding.ts). A normal request
// waits for its turn at most its request timeout, counted from when it was asked (and, when
// planned against a deadline, not past that): then it fails unsent (NotSentError, temporary)
// and its caller retries from a fresh read, instead of waiting on and sending a write planned
// minutes ago (under load one waited ~9 min behind revocations while its timeout, counted
// only from the send, said 10 s). Once sent, a request has its request timeout for the answer
// (connection.ts). The Lease takes no lane at all (lease.ts): its deadline is the renew deadline.
import type { Clock } from '../runtime/clock.ts';
import type { CallOptions, KubeApi } from './client.ts';
import { NotSentError } from './connection.ts';
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
  private readonly normalWaiting = new Set<() => void>();
  private readonly urgentLimit: number;

  constructor(urgentLimit: number) {
    this.urgentLimit = urgentLimit;
  }

  /** Urgent requests queued or in flight. */
  get urgentPending(): number {
    return this.urgentRunning + this.urgentWaiting.length;
  }

  /**
   * Runs `send` in a lane; `beforeSend` runs at the moment it may start (it may throw to refuse),
   * and `wanted` then too: false refuses to send (NotSentError), so an urgent request its caller
   * no longer needs gives its slot to the next at once instead of holding it until answered.
   * A normal request waiting behind urgent ones also asks `beforeSend` at `wake.at`: a write
   * planned against a deadline gives up there, not when the urgent requests are done (it holds
   * its grant's RBAC lock, so that grant's own revocation waits for it).
   */
  async run<T>(lane: Lane, send: () => Promise<T>, beforeSend?: () => void, wanted?: () => boolean, wake?: { at: number; clock: Clock }): Promise<T> {
    if (lane === 'normal') {
      while (this.urgentPending > 0) {
        beforeSend?.();
        await this.normalTurn(wake);
      }
      beforeSend?.();
      refuseUnwanted(wanted);
      return send();
    }
    if (this.urgentRunning < this.urgentLimit) this.urgentRunning++;
    else {
      await new Promise<void>((resolve) => this.urgentWaiting.push(resolve)); // the slot is handed over
      // ...by a request as it was answered, before its caller has seen the answer (a few promise
      // steps later): one turn of the event loop lets that answer settle whether this one is wanted.
      if (wanted) await new Promise((resolve) => setImmediate(resolve));
    }
    try {
      beforeSend?.();
      refuseUnwanted(wanted);
      return await send();
    } finally {
      const next = this.urgentWaiting.shift();
      if (next) next();
      else if (--this.urgentRunning === 0) {
        const waiting = [...this.normalWaiting];
        this.normalWaiting.clear();
        for (const resume of waiting) resume();
      }
    }
  }

  /** Resolves when no urgent request is pending any more, or at `wake.at`. */
  private normalTurn(wake: { at: number; clock: Clock } | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let cancel = (): void => undefined;
      const resume = (): void => {
        cancel();
        this.normalWaiting.delete(resume);
        resolve();
      };
      this.normalWaiting.add(resume);
      if (wake) cancel = wake.clock.setTimer(resume, wake.at - wake.clock.now());
    });
  }

  /**
   * The API with every request in `lane`. A normal request waits for its turn at most the
   * connection's request timeout (as it is when asked) and, given a `deadline`, not past it
   * (DeadlinePassedError). Watches are streams, not requests: untouched.
   */
  view(api: KubeApi, lane: Lane, clock: Clock, deadline?: number): KubeApi {
    return wrapCalls(api, (_operation, args, send) => {
      const wanted = callOptions(args)?.wanted;
      if (lane === 'urgent') return this.run('urgent', send, undefined, wanted);
      const asked = clock.now();
      const maxWaitMs = api.connection.timeouts.requestMs;
      const refuse = (): void => {
        if (deadline !== undefined && clock.now() >= deadline) throw new DeadlinePassedError(deadline);
        if (clock.now() - asked >= maxWaitMs)
          throw new NotSentError(`waited its whole request timeout (${String(maxWaitMs)} ms) behind revocations for its turn: not sent`);
      };
      return this.run('normal', send, refuse, wanted, { at: Math.min(asked + maxWaitMs, deadline ?? Infinity), clock });
    });
  }

  /** The normal lane, refusing any request that would start at or after `deadline` (also one still waiting then). */
  until(api: KubeApi, deadline: number, clock: Clock): KubeApi {
    return this.view(api, 'normal', clock, deadline);
  }
}

function refuseUnwanted(wanted: (() => boolean) | undefined): void {
  if (wanted?.() === false) throw new NotSentError('no longer wanted when its turn came: not sent');
}

/** The call's options: the client's methods take them last, after their parameters. */
function callOptions(args: readonly unknown[]): CallOptions | undefined {
  const last = args.at(-1);
  return args.length >= 2 && last !== null && typeof last === 'object' ? last : undefined;
}
