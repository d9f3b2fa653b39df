// The revocation delete's attempts (src/revocation/revoke-binding.ts): a slow answer is waited
// for while further attempts go out on fresh connections, and the first that deletes wins.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from '../../src/kube/api-error.ts';
import { apiFor, type KubeApi } from '../../src/kube/client.ts';
import { deletesFirst, URGENT_REQUESTS } from '../../src/revocation/lanes.ts';
import { firstDeletion, revokeRoleBinding } from '../../src/revocation/revoke-binding.ts';
import { httpStatus, isTemporary } from '../../src/runtime/errors.ts';
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

  test('"already gone" after an attempt that failed without an answer: possibly ours (true), since that attempt may have deleted it', async () => {
    const h = harness();
    h.clock.advance(500);
    // Attempt 1 reached the API server, which deleted the binding; its stalled connection is
    // destroyed before the answer arrives. Attempt 2 finds it gone. False would make the fast
    // path record the expiry as ended by the grant's timer Job (audit `by`, a false alert).
    h.attempt(2).resolve(false);
    await tick();
    h.attempt(1).reject(timedOut());
    await h.settled;
    expect(h.outcome.value).toBe(true);
  });

  test('"already gone" after an earlier attempt failed without an answer and the next was sent at once: true', async () => {
    const h = harness();
    h.attempt(1).reject(timedOut());
    await tick();
    h.attempt(2).resolve(false);
    await h.settled;
    expect(h.log).toEqual(['send 1 at 0', 'send 2 at 0', 'result true']);
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

/** The API server's answer to a DELETE of a RoleBinding that is not there. */
const notFoundStatus = (name: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  message: `rolebindings.rbac.authorization.k8s.io "${name}" not found`,
  reason: 'NotFound',
  details: { name, group: 'rbac.authorization.k8s.io', kind: 'rolebindings' },
  code: 404,
});

describe('revokeRoleBinding in the urgent lane, the API server answering every DELETE after 1 s', () => {
  test('attempts of revocations already done are not sent: they do not hold the lane ahead of a later deadline', async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const deletesSent: string[] = [];
    const gone = new Set<string>();
    const api = {
      connection: { timeouts: { requestMs: 10_000, revocationMs: 500 }, freshConnection: () => undefined },
      ...{ core: {}, authz: {}, custom: {}, batch: {}, coordination: {} },
      rbac: {
        // APF queueing or a slow admission webhook: every DELETE is answered after 1 s.
        deleteNamespacedRoleBinding: (p: { name: string }) => {
          deletesSent.push(p.name);
          return new Promise((resolve, reject) =>
            clock.setTimer(() => {
              if (gone.has(p.name)) reject(new ApiError(404, `DELETE ${p.name}`, notFoundStatus(p.name)));
              else {
                gone.add(p.name);
                resolve({});
              }
            }, 1000),
          );
        },
      },
    } as unknown as KubeApi;
    const { urgentApi } = deletesFirst(api, clock);
    const step = async (untilMs: number) => {
      while (clock.now() - t0 < untilMs) {
        clock.advance(10);
        for (let i = 0; i < 5; i++) await tick();
      }
    };
    // A burst of deadlines fills the lane; their second attempts (at 500 ms) wait for slots.
    const burst = Array.from({ length: URGENT_REQUESTS }, (_, i) => revokeRoleBinding(urgentApi, clock, 'ns', `b${String(i)}`));
    await step(1100);
    expect(await Promise.all(burst)).toEqual(burst.map(() => true)); // each deleted by its first attempt at 1000 ms
    let lateDoneAt: number | undefined;
    void revokeRoleBinding(urgentApi, clock, 'ns', 'late').then(() => {
      lateDoneAt = clock.now() - t0;
    });
    await step(6000);
    // Before: the burst's queued second attempts were sent at 1000 ms and held every slot
    // until 2000 ms (then their third ones), so the late one ended at 4000 ms after 99 DELETEs.
    expect(lateDoneAt).toBeLessThanOrEqual(2200);
    expect(deletesSent.filter((n) => n.startsWith('b'))).toHaveLength(URGENT_REQUESTS);
  });
});

describe('revokeRoleBinding through the REST client: what a 404 means', () => {
  const listen = (s: Server): Promise<number> =>
    new Promise((resolve) => {
      s.listen(0, '127.0.0.1', () => {
        resolve((s.address() as AddressInfo).port);
      });
    });

  /** revokeRoleBinding against a server answering every request with `status`, `contentType` and `body`. */
  async function revokeAgainst(status: number, contentType: string, body: string): Promise<{ result: boolean | undefined; error: unknown; requests: number }> {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(status, { 'content-type': contentType });
      res.end(body);
    });
    const port = await listen(server);
    // A proxy in front of the API server with a path prefix (Rancher's /k8s/clusters/<id>).
    const api = apiFor({ server: `http://127.0.0.1:${String(port)}/k8s/clusters/c-1`, tls: () => ({}), headers: () => ({ authorization: 'Bearer t' }) });
    try {
      const result = await revokeRoleBinding(api, new FakeClock(), 'shop', 'debuggrant-inc-1');
      return { result, error: undefined, requests };
    } catch (error) {
      return { result: undefined, error, requests };
    } finally {
      api.connection.close();
      server.close();
    }
  }

  test("the API server's NotFound Status: already gone (false)", async () => {
    expect(await revokeAgainst(404, 'application/json', JSON.stringify(notFoundStatus('debuggrant-inc-1')))).toMatchObject({ result: false, requests: 1 });
  });

  test('a 404 that is not the API server\'s NotFound Status (a proxy\'s HTML page) is not "already gone": a temporary error, retried', async () => {
    const { result, error } = await revokeAgainst(404, 'text/html', '<html><body>404 page not found (cluster agent disconnected)</body></html>');
    expect(result).toBeUndefined();
    expect(httpStatus(error)).toBe(404);
    expect(isTemporary(error)).toBe(true); // the caller's quick backoff, not a permanent refusal
  });

  test('a NotFound Status about another kind of object is not "already gone" either', async () => {
    const other = { ...notFoundStatus('debuggrant-inc-1'), details: { name: 'shop', kind: 'namespaces' } };
    expect((await revokeAgainst(404, 'application/json', JSON.stringify(other))).result).toBeUndefined();
  });
});
