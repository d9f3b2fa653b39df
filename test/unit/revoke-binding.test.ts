// The revocation delete's attempts (src/revocation/revoke-binding.ts): a slow answer is waited
// for while further attempts go out on fresh connections, and the first that deletes wins.
import { ApiError } from '../../src/kube/api-error.ts';
import { firstDeletion } from '../../src/revocation/revoke-binding.ts';
import { httpStatus } from '../../src/runtime/errors.ts';
import { FakeClock } from '../support/fake-clock.ts';

const tick = () => new Promise((r) => setImmediate(r));

/** Attempts answered by hand, and what the policy did, in order. */
function harness(attempts = 3) {
  const clock = new FakeClock();
  const start = clock.now();
  const log: string[] = [];
  const pending: { resolve: (deleted: boolean) => void; reject: (err: unknown) => void }[] = [];
  const outcome = { value: undefined as boolean | undefined, error: undefined as unknown };
  const settled = firstDeletion({
    clock,
    attempts,
    hedgeAfterMs: 500,
    send: () => {
      log.push(`send ${String(pending.length + 1)} at ${String(clock.now() - start)}`);
      return new Promise<boolean>((resolve, reject) => pending.push({ resolve, reject }));
    },
    freshConnection: (reason) => {
      log.push(`fresh connection: ${reason}`);
    },
  }).then(
    (v) => {
      outcome.value = v;
      log.push(`result ${String(v)}`);
    },
    (err: unknown) => {
      outcome.error = err;
      log.push(`error ${String(httpStatus(err) ?? (err instanceof Error ? err.message : err))}`);
    },
  );

  const attempt = (n: number) => {
    const p = pending[n - 1];
    if (!p) throw new Error(`attempt ${String(n)} was never sent`);
    return p;
  };
  return { clock, log, attempt, settled, outcome };
}

const status = (code: number) => new ApiError(code, 'DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings/b', {});
const timedOut = () => Object.assign(new Error('DELETE got no answer within 10000 ms'), { name: 'RequestTimeoutError' });

describe('firstDeletion', () => {
  test('a slow first attempt is not abandoned: later ones go out on fresh connections, and its answer wins', async () => {
    const h = harness();
    h.clock.advance(499);
    expect(h.log).toEqual(['send 1 at 0']);
    h.clock.advance(1);
    h.clock.advance(500);
    h.clock.advance(5000); // no fourth: three attempts at most
    expect(h.log).toEqual([
      'send 1 at 0',
      'fresh connection: revocation attempt 1 had no answer within 500 ms',
      'send 2 at 500',
      'fresh connection: revocation attempt 2 had no answer within 500 ms',
      'send 3 at 1000',
    ]);
    h.attempt(1).resolve(true);
    await h.settled;
    expect(h.outcome.value).toBe(true);
  });

  test('"already gone" from a later attempt waits for the earlier one still in flight (it may be the one that deleted)', async () => {
    const h = harness();
    h.clock.advance(500);
    h.attempt(2).resolve(false);
    await tick();
    expect(h.log.at(-1)).toBe('send 2 at 500');
    h.clock.advance(500); // no further attempt once one has said "already gone"
    expect(h.log.filter((l) => l.startsWith('send'))).toHaveLength(2);
    h.attempt(1).resolve(true);
    await h.settled;
    expect(h.outcome.value).toBe(true);
  });

  test('"already gone" from every attempt: false', async () => {
    const h = harness();
    h.clock.advance(500);
    h.attempt(1).resolve(false);
    h.attempt(2).resolve(false);
    await h.settled;
    expect(h.outcome.value).toBe(false);
  });

  test('a failure without an answer (stalled connection) is followed at once by the next attempt; its connection was retired as it failed', async () => {
    const h = harness();
    h.clock.advance(100);
    h.attempt(1).reject(timedOut());
    await tick();
    expect(h.log).toEqual(['send 1 at 0', 'send 2 at 100']);
    h.attempt(2).resolve(true);
    await h.settled;
    expect(h.outcome.value).toBe(true);
  });

  test('an error answer (429) from a later attempt does not hide an earlier one still queued', async () => {
    const h = harness();
    h.clock.advance(500);
    h.attempt(2).reject(status(429));
    await tick();
    h.attempt(1).resolve(true);
    await h.settled;
    expect(h.outcome.value).toBe(true);
  });

  test('an error answer with nothing else in flight goes to the caller (its backoff honours Retry-After); no further attempt', async () => {
    const h = harness();
    h.attempt(1).reject(status(403));
    await h.settled;
    expect(h.log).toEqual(['send 1 at 0', 'error 403']);
    h.clock.advance(2000);
    expect(h.log.filter((l) => l.startsWith('send'))).toHaveLength(1);
  });

  test('every attempt failed without an answer: the last failure is thrown, after three attempts', async () => {
    const h = harness();
    for (const n of [1, 2, 3]) {
      h.attempt(n).reject(timedOut());
      await tick();
    }
    await h.settled;
    expect(h.log).toEqual(['send 1 at 0', 'send 2 at 0', 'send 3 at 0', 'error DELETE got no answer within 10000 ms']);
  });
});
