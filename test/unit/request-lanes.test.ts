import { DeadlinePassedError, RequestLanes } from '../../src/kube/request-lanes.ts';
import type { KubeApi } from '../../src/kube/client.ts';
import { KeyedLock } from '../../src/runtime/keyed-lock.ts';
import { FakeClock } from '../support/fake-clock.ts';

const tick = () => new Promise((r) => setImmediate(r));

/** A request that completes when told to, recording when it started. */
function pending(log: string[], name: string): { send: () => Promise<string>; finish: () => void } {
  let finish = (): void => undefined;
  return {
    send: () => {
      log.push(`start ${name}`);
      return new Promise<string>((r) => {
        finish = () => {
          r(name);
        };
      });
    },
    finish: () => {
      finish();
    },
  };
}

describe('RequestLanes', () => {
  test('normal requests wait while any urgent one is queued or in flight, then all start', async () => {
    const lanes = new RequestLanes(1);
    const log: string[] = [];
    const u1 = pending(log, 'u1');
    const u2 = pending(log, 'u2');
    const n1 = pending(log, 'n1');
    const done = [lanes.run('urgent', u1.send), lanes.run('urgent', u2.send), lanes.run('normal', n1.send)];
    await tick();
    expect(log).toEqual(['start u1']); // u2 waits for the urgent limit, n1 for both
    u1.finish();
    await tick();
    expect(log).toEqual(['start u1', 'start u2']);
    u2.finish();
    await tick();
    expect(log).toEqual(['start u1', 'start u2', 'start n1']);
    n1.finish();
    expect(await Promise.all(done)).toEqual(['u1', 'u2', 'n1']);
    expect(lanes.urgentPending).toBe(0);
  });

  test('with no urgent work, normal requests start at once and in parallel', async () => {
    const lanes = new RequestLanes(4);
    const log: string[] = [];
    const a = pending(log, 'a');
    const b = pending(log, 'b');
    const done = Promise.all([lanes.run('normal', a.send), lanes.run('normal', b.send)]);
    await tick();
    expect(log).toEqual(['start a', 'start b']);
    a.finish();
    b.finish();
    await done;
  });

  test('a request planned against a deadline is refused when its turn comes after it', async () => {
    const lanes = new RequestLanes(1);
    let now = 1000;
    const log: string[] = [];
    const u = pending(log, 'u');
    const urgent = lanes.run('urgent', u.send);
    const write = lanes.run(
      'normal',
      () => Promise.resolve('sent'),
      () => {
        if (now >= 1500) throw new DeadlinePassedError(1500);
      },
    );
    await tick();
    now = 1500; // the deadline passes while the write waits behind a revocation
    u.finish();
    await urgent;
    await expect(write).rejects.toBeInstanceOf(DeadlinePassedError);
  });

  test('a request planned against a deadline stops waiting at the deadline, while urgent requests still run', async () => {
    const clock = new FakeClock();
    const lanes = new RequestLanes(1);
    const log: string[] = [];
    const u = pending(log, 'u');
    void lanes.run('urgent', u.send);
    const sent: string[] = [];
    const api = {
      ...{ core: {}, authz: {}, custom: {}, batch: {}, coordination: {} },
      connection: { timeouts: { requestMs: 10_000, revocationMs: 500 } },
      rbac: {
        patchNamespacedRole: () => {
          sent.push('role');
          return Promise.resolve({});
        },
      },
    } as unknown as KubeApi;
    const write = lanes.until(api, clock.now() + 500, clock).rbac.patchNamespacedRole({ name: 'r', namespace: 'ns', body: {} }, { patch: 'apply' });
    const outcome = write.then(
      () => 'sent',
      (err: unknown) => (err instanceof Error ? err.name : String(err)),
    );
    await tick();
    clock.advance(499);
    await tick();
    expect(sent).toEqual([]);
    // Before: it waited for the urgent request, however long after its deadline (holding its
    // grant's RBAC lock, so that grant's own revocation waited behind everyone else's).
    clock.advance(1);
    expect(await outcome).toBe('DeadlinePassedError');
    expect(sent).toEqual([]);
    u.finish();
    expect(clock.pendingTimers).toBe(0);
  });

  test('a request planned against a deadline that gets its turn first leaves no timer behind', async () => {
    const clock = new FakeClock();
    const lanes = new RequestLanes(1);
    const log: string[] = [];
    const u = pending(log, 'u');
    const urgent = lanes.run('urgent', u.send);
    const write = lanes.run('normal', () => Promise.resolve('sent'), undefined, undefined, { at: clock.now() + 500, clock });
    await tick();
    expect(clock.pendingTimers).toBe(1);
    u.finish();
    await urgent;
    expect(await write).toBe('sent');
    expect(clock.pendingTimers).toBe(0);
  });

  test('an urgent request no longer wanted when its slot comes is not sent, and the slot goes to the next', async () => {
    const lanes = new RequestLanes(1);
    const log: string[] = [];
    const u1 = pending(log, 'u1');
    const u2 = pending(log, 'u2');
    const u3 = pending(log, 'u3');
    let u2Wanted = true;
    const outcomes: string[] = [];
    const done = [
      lanes.run('urgent', u1.send),
      lanes.run('urgent', u2.send, undefined, () => u2Wanted).catch((err: unknown) => (err instanceof Error ? err.name : String(err))),
      lanes.run('urgent', u3.send),
    ].map((p) => p.then((v) => outcomes.push(v)));
    await tick();
    // u1's answer makes u2 pointless (its caller learns so a few promise steps after the slot is handed over).
    u1.finish();
    await Promise.resolve();
    u2Wanted = false;
    await tick();
    await tick();
    expect(log).toEqual(['start u1', 'start u3']);
    u3.finish();
    await Promise.all(done);
    expect(outcomes.sort()).toEqual(['NotSentError', 'u1', 'u3']);
  });
});

describe('RequestLanes: what a deadline means per lane', () => {
  /** An API whose RoleBinding deletes are held until `release()`; every request sent is logged. */
  function heldDeletes(requestMs: number): { api: KubeApi; sent: string[]; release: () => void } {
    const sent: string[] = [];
    const held: (() => void)[] = [];
    const calls = {
      deleteNamespacedRoleBinding: () => {
        sent.push('delete');
        return new Promise<void>((r) => held.push(r));
      },
      readNamespacedRole: () => {
        sent.push('read');
        return Promise.resolve('read');
      },
    };
    const connection = { timeouts: { requestMs, revocationMs: 500 } };
    const api = { connection, core: calls, rbac: calls, authz: calls, custom: calls, batch: calls, coordination: calls } as unknown as KubeApi;
    return {
      api,
      sent,
      release: () => {
        for (const r of held.splice(0)) r();
      },
    };
  }
  const outcome = (p: Promise<unknown>): Promise<string> =>
    p.then(
      (v) => String(v),
      (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)),
    );

  test('a normal request whose turn has not come within its request timeout fails then, unsent; one asked later still waits its turn', async () => {
    const clock = new FakeClock();
    const lanes = new RequestLanes(1);
    const { api, sent, release } = heldDeletes(10_000);
    const urgent = lanes.view(api, 'urgent', clock).rbac.deleteNamespacedRoleBinding({ namespace: 'a', name: 'b' });
    const normal = lanes.view(api, 'normal', clock);
    const stale = outcome(normal.rbac.readNamespacedRole({ namespace: 'a', name: 'r' }));
    clock.advance(4_000);
    const fresh = outcome(normal.rbac.readNamespacedRole({ namespace: 'a', name: 'r' }));
    await tick();
    clock.advance(6_000); // the revocation still holds the lane: the first has waited its whole timeout, the second 6 s
    // Before: it waited as long as the revocation did (once ~9 min under load), then was sent.
    expect(await stale).toMatch(/^NotSentError: waited its whole request timeout \(10000 ms\)/);
    expect(sent).toEqual(['delete']);
    release();
    await urgent;
    expect(await fresh).toBe('read');
    expect(sent).toEqual(['delete', 'read']);
    expect(clock.pendingTimers).toBe(0);
  });

  test('an urgent request (a revocation) is never refused for waiting, however long its slot takes', async () => {
    const clock = new FakeClock();
    const lanes = new RequestLanes(1);
    const { api, sent, release } = heldDeletes(10_000);
    const urgent = lanes.view(api, 'urgent', clock);
    const first = urgent.rbac.deleteNamespacedRoleBinding({ namespace: 'a', name: 'b' });
    const second = outcome(urgent.rbac.deleteNamespacedRoleBinding({ namespace: 'a', name: 'c' }));
    clock.advance(600_000);
    release();
    await first;
    await tick();
    await tick();
    expect(sent).toEqual(['delete', 'delete']);
    release();
    expect(await second).toBe('undefined');
  });

  test('a request planned against a deadline later than its request timeout fails unsent at the timeout; one earlier, at the deadline', async () => {
    const clock = new FakeClock();
    const lanes = new RequestLanes(1);
    const { api, sent, release } = heldDeletes(1_000);
    const urgent = lanes.view(api, 'urgent', clock).rbac.deleteNamespacedRoleBinding({ namespace: 'a', name: 'b' });
    const late = outcome(lanes.until(api, clock.now() + 5_000, clock).rbac.readNamespacedRole({ namespace: 'a', name: 'r' }));
    const soon = outcome(lanes.until(api, clock.now() + 500, clock).rbac.readNamespacedRole({ namespace: 'a', name: 'r' }));
    await tick();
    clock.advance(500);
    expect(await soon).toMatch(/^DeadlinePassedError/);
    clock.advance(500);
    expect(await late).toMatch(/^NotSentError/);
    expect(sent).toEqual(['delete']);
    release();
    await urgent;
  });
});

describe('KeyedLock', () => {
  test('one holder per key, in order; other keys do not wait', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    let release = (): void => undefined;
    const first = lock.run('k', async () => {
      log.push('first in');
      await new Promise<void>((r) => {
        release = r;
      });
      log.push('first out');
    });
    const second = lock.run('k', () => {
      log.push('second');
      return Promise.resolve();
    });
    const other = lock.run('other', () => {
      log.push('other');
      return Promise.resolve();
    });
    await other;
    await tick();
    expect(log).toEqual(['first in', 'other']);
    release();
    await Promise.all([first, second]);
    expect(log).toEqual(['first in', 'other', 'first out', 'second']);
  });

  test('a failed holder releases the key', async () => {
    const lock = new KeyedLock();
    await expect(lock.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await lock.run('k', () => Promise.resolve(1))).toBe(1);
  });
});
