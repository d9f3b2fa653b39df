import { runInNewContext } from 'node:vm';
import { bySignal } from '../../src/runtime/by-signal.ts';

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

describe('bySignal: settles no later than its signal', () => {
  test('work that never settles is rejected with the signal reason when it fires', async () => {
    const deadline = new AbortController();
    const settled = bySignal(never<string>(), deadline.signal);
    const reason = new Error('deadline passed');
    deadline.abort(reason);
    await expect(settled).rejects.toBe(reason);
  });

  test('a signal that already fired rejects at once, the work not awaited', async () => {
    const reason = new Error('too late');
    await expect(bySignal(never<string>(), AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  test("the work's answer before the signal is the answer; a later abort changes nothing", async () => {
    const deadline = new AbortController();
    await expect(bySignal(Promise.resolve('answer'), deadline.signal)).resolves.toBe('answer');
    deadline.abort(new Error('after the answer'));
  });

  test("the work's failure before the signal is the failure", async () => {
    const failure = new Error('refused');
    await expect(bySignal(Promise.reject(failure), new AbortController().signal)).rejects.toBe(failure);
  });

  test('a failure from another realm (not instanceof Error) keeps its code: it is passed on as it came', async () => {
    const tlsFailure = runInNewContext(
      "Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })",
    ) as Error;
    expect(tlsFailure instanceof Error).toBe(false);
    await expect(bySignal(Promise.reject(tlsFailure), new AbortController().signal)).rejects.toBe(tlsFailure);
  });

  test('work that fails after the signal fired leaves no unhandled rejection', async () => {
    const deadline = new AbortController();
    let fail: (err: Error) => void = () => undefined;
    const work = new Promise<string>((_, reject) => {
      fail = reject;
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => {
      unhandled.push(err);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const settled = bySignal(work, deadline.signal);
      deadline.abort(new Error('deadline'));
      await expect(settled).rejects.toThrow('deadline');
      fail(new Error('late failure'));
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
