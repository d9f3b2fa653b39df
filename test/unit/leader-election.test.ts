// Leader election on an injected clock against a Lease store whose answers the test controls:
// how many requests a renewal costs, what each is bounded by, and when leadership ends.
import { ApiError } from '../../src/kube/api-error.ts';
import type { LeaseRecord, LeaseStore } from '../../src/kube/lease.ts';
import { makeLogger } from '../../src/log.ts';
import { LeaderElector } from '../../src/runtime/leader-election.ts';
import { FakeClock } from '../support/fake-clock.ts';

const LEASE_MS = 15_000;
const RENEW_DEADLINE_MS = 10_000;
const RETRY_MS = 2_000;

interface Call {
  op: 'get' | 'write';
  until: number | undefined;
  /** Settles this call: the written record (write), the stored one (get), or an error. */
  answer(result?: LeaseRecord | Error): void;
}

/** A Lease store that answers only when the test says so; every call is recorded with its `until`. */
class HeldStore implements LeaseStore {
  readonly calls: Call[] = [];
  stored: LeaseRecord | undefined;
  private version = 0;

  get(until?: number): Promise<LeaseRecord | undefined> {
    return new Promise((resolve, reject) => {
      this.calls.push({
        op: 'get',
        until,
        answer: (r) => {
          if (r instanceof Error) reject(r);
          else resolve(r ?? this.stored);
        },
      });
    });
  }

  write(record: LeaseRecord, until?: number): Promise<LeaseRecord> {
    return new Promise((resolve, reject) => {
      this.calls.push({
        op: 'write',
        until,
        answer: (r) => {
          if (r instanceof Error) {
            reject(r);
            return;
          }
          this.stored = { ...record, resourceVersion: String(++this.version) };
          resolve(this.stored);
        },
      });
    });
  }

  /** Answers the oldest unanswered call. */
  answerNext(result?: LeaseRecord | Error): Call {
    const call = this.calls.shift();
    if (!call) throw new Error('no call waiting');
    call.answer(result);
    return call;
  }
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

/** A candidate on a fresh store, its callbacks recorded with the clock's time; not yet running. */
function candidate(): { clock: FakeClock; store: HeldStore; events: string[]; elector: LeaderElector } {
  const clock = new FakeClock();
  const store = new HeldStore();
  const elector = new LeaderElector({
    store,
    identity: 'me',
    clock,
    log: makeLogger('silent'),
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_DEADLINE_MS,
    retryPeriodMs: RETRY_MS,
  });
  return { clock, store, events: [], elector };
}

async function leader(): Promise<{ clock: FakeClock; store: HeldStore; events: string[]; elector: LeaderElector }> {
  const { clock, store, events, elector } = candidate();
  elector.run({
    onStartedLeading: () => events.push(`started at ${String(clock.now())}`),
    onStoppedLeading: () => events.push(`stopped at ${String(clock.now())}`),
  });
  await settle();
  store.answerNext(); // get: no Lease yet
  await settle();
  store.answerNext(); // create
  await settle();
  expect(elector.isLeader).toBe(true);
  return { clock, store, events, elector };
}

describe('LeaderElector', () => {
  test('the leader renews with one request (a replace of the Lease it last wrote), not a read and a write', async () => {
    const { clock, store, elector } = await leader();
    for (let i = 0; i < 3; i++) {
      clock.advance(RETRY_MS);
      await settle();
      expect(store.calls.map((c) => c.op)).toEqual(['write']);
      store.answerNext();
      await settle();
    }
    expect(store.stored?.renewTime).toBe(clock.now());
    expect(elector.isLeader).toBe(true);
    await elector.stop(false);
  });

  test("a renewal's requests are bounded by the renew deadline of the last renewal", async () => {
    const { clock, store, elector } = await leader();
    const renewedAt = clock.now();
    clock.advance(RETRY_MS);
    await settle();
    expect(store.calls.map((c) => [c.op, c.until])).toEqual([['write', renewedAt + RENEW_DEADLINE_MS]]);
    await elector.stop(false);
  });

  test('a renewal that hangs does not keep it leading past the renew deadline: leadership ends exactly then', async () => {
    const { clock, store, events } = await leader();
    const renewedAt = clock.now();
    clock.advance(RETRY_MS); // the renewal goes out and is never answered (queued in a saturated API server)
    await settle();
    expect(store.calls).toHaveLength(1);
    clock.advance(RENEW_DEADLINE_MS - RETRY_MS - 1);
    await settle();
    expect(events).toEqual([`started at ${String(renewedAt)}`]);
    clock.advance(1);
    await settle();
    expect(events).toEqual([`started at ${String(renewedAt)}`, `stopped at ${String(renewedAt + RENEW_DEADLINE_MS)}`]);
    // ...and a renewal answered after that changes nothing, nor does it try again.
    store.answerNext();
    await settle();
    clock.advance(RETRY_MS * 3);
    await settle();
    expect(events).toHaveLength(2);
    expect(store.calls).toHaveLength(0);
  });

  test('failed renewals are retried every retry period until the renew deadline, then leadership ends', async () => {
    const { clock, store, events } = await leader();
    const renewedAt = clock.now();
    let attempts = 0;
    while (clock.now() < renewedAt + RENEW_DEADLINE_MS) {
      clock.advance(RETRY_MS);
      await settle();
      for (const call of store.calls.splice(0)) {
        attempts++;
        call.answer(new ApiError(429, 'PUT lease', { kind: 'Status', reason: 'TooManyRequests' }, { 'retry-after': '1' }));
      }
      await settle();
    }
    expect(attempts).toBe(RENEW_DEADLINE_MS / RETRY_MS - 1);
    expect(events.at(-1)).toBe(`stopped at ${String(renewedAt + RENEW_DEADLINE_MS)}`);
  });

  test('renewals answered late, as under a saturated API server, keep the Lease: the next is due a retry period after the last started, not after its answer', async () => {
    const { clock, store, events, elector } = await leader();
    // Each renewal is answered 4.5 s after it was sent (its wait in the priority level's queue).
    // With the retry period counted from the answer, the next one was answered 4.5 + 2 + 4.5 =
    // 11 s after the last renewal started, past the 10 s renew deadline: leadership ended.
    const ANSWER_MS = 4_500;
    clock.advance(RETRY_MS);
    await settle();
    expect(store.calls.map((c) => c.op)).toEqual(['write']);
    let started = clock.now();
    for (let i = 0; i < 6; i++) {
      clock.advance(ANSWER_MS);
      store.answerNext();
      await settle();
      // Due 2 s after it started, that is at once; but not sooner than a quarter period after the answer.
      clock.advance(RETRY_MS / 4 - 1);
      await settle();
      expect(store.calls).toHaveLength(0);
      clock.advance(1);
      await settle();
      expect(store.calls.map((c) => c.op)).toEqual(['write']);
      expect(clock.now() - started).toBe(ANSWER_MS + RETRY_MS / 4);
      started = clock.now();
    }
    store.answerNext();
    await settle();
    expect(events).toHaveLength(1);
    expect(elector.isLeader).toBe(true);
    // Answered at once, the next is due a whole retry period after it.
    clock.advance(RETRY_MS - 1);
    await settle();
    expect(store.calls).toHaveLength(0);
    clock.advance(1);
    await settle();
    expect(store.calls.map((c) => c.op)).toEqual(['write']);
    expect(clock.now() - started).toBe(RETRY_MS);
    await elector.stop(false);
  });

  test('a renewal that conflicts (someone else wrote the Lease) reads it, as a candidate does, and does not take it from a live holder', async () => {
    const { clock, store, elector } = await leader();
    clock.advance(RETRY_MS);
    await settle();
    const theirs: LeaseRecord = {
      holder: 'other',
      renewTime: clock.now(),
      acquireTime: clock.now(),
      leaseDurationSeconds: 15,
      transitions: 1,
      resourceVersion: '99',
    };
    store.stored = theirs;
    store.answerNext(new ApiError(409, 'PUT lease', { kind: 'Status', reason: 'Conflict' }, {}));
    await settle();
    expect(store.calls.map((c) => c.op)).toEqual(['get']);
    store.answerNext();
    await settle();
    expect(store.calls).toHaveLength(0);
    expect(elector.observedHolder).toBe('other');
    await elector.stop(false);
  });

  test('a Lease taken only after the renew deadline of its own attempt is not led upon', async () => {
    const { clock, store, events, elector } = candidate();
    elector.run({ onStartedLeading: () => events.push('started'), onStoppedLeading: () => events.push('stopped') });
    await settle();
    store.answerNext();
    await settle();
    clock.advance(RENEW_DEADLINE_MS); // the create's answer comes that late
    store.answerNext();
    await settle();
    expect(events).toEqual([]);
    expect(elector.isLeader).toBe(false);
    await elector.stop(false);
  });
});
