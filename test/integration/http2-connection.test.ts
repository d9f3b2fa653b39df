// The operator's one HTTP/2 connection under load, against the real API server: many
// concurrent requests with watches open on the same connection, as at 32 workers. Every
// request must be answered and the connection never drained by the API server (GOAWAY) on
// our account: a drained connection held the requests undici had queued on it until the
// watches on it ended, so they waited out their deadline (docs/benchmark.md, session 4).
import type { Dispatcher } from 'undici';
import { fromKubeConfig, type KubeApi } from '../../src/kube/client.ts';
import { openWatch } from '../../src/kube/list-watch.ts';
import type { WatchStream } from '../../src/runtime/informer.ts';
import { send } from '../../src/kube/http-pool.ts';
import { freshNamespace, kubeConfigFor } from '../support/cluster.ts';

const WATCHES = 7; // the operator's informers
const WORKERS = 40;
const REQUESTS_PER_WORKER = 30;

interface Run {
  answered: number;
  /** Requests that got no answer within their timeout: held somewhere. */
  timedOut: string[];
  /** Requests undici failed at once because the API server drained their connection (GOAWAY): a temporary error the caller retries. */
  refusedByDrain: string[];
  /** Anything else: an error status, another error. */
  failed: string[];
  retired: string[];
  /** GOAWAY frames the API server sent on the connection's pools. */
  goaways: number;
}

const newRun = (): Run => ({ answered: 0, timedOut: [], refusedByDrain: [], failed: [], retired: [], goaways: 0 });

/** Counts the GOAWAYs a pool of connections receives (undici reports each as a disconnect). */
function countGoaways(dispatcher: Dispatcher, run: Run): void {
  dispatcher.on('disconnect', (_origin: unknown, _targets: unknown, err: Error) => {
    if (/GOAWAY/.test(err.message)) run.goaways++;
  });
}

/**
 * WORKERS workers send REQUESTS_PER_WORKER requests each over `api`'s connection while WATCHES
 * watches stream: server-side applies (each creates or updates a ConfigMap the watches see),
 * SubjectAccessReviews and lists, none depending on another's outcome.
 */
async function load(api: KubeApi, ns: string, run: Run, drainEveryMs?: number): Promise<void> {
  const c = api.connection;
  countGoaways((await c.open({ path: '/' })).dispatcher, run);
  countGoaways((await c.open({ path: '/' }, 'watches')).dispatcher, run);
  const path = `/api/v1/namespaces/${ns}/configmaps`;
  const watches: WatchStream[] = [];
  for (let i = 0; i < WATCHES; i++) watches.push(await openWatch(c, path, { resourceVersion: '', timeoutSeconds: 300, idleMs: 300_000 }, () => undefined));
  const one = async (w: number, i: number): Promise<void> => {
    const name = `w${String(w)}-${String(i % 5)}`;
    const req =
      i % 3 === 0
        ? ({
            method: 'PATCH',
            path: `${path}/${name}`,
            query: { fieldManager: 'h2-test', force: 'true' },
            body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { n: String(i) } }),
            contentType: 'application/apply-patch+yaml',
          } as const)
        : i % 3 === 1
          ? ({
              method: 'POST',
              path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
              body: JSON.stringify({ spec: { user: 'alice', resourceAttributes: { namespace: ns, verb: 'get', resource: 'pods' } } }),
              contentType: 'application/json',
            } as const)
          : ({ method: 'GET', path, query: { limit: '10' } } as const);
    const what = `${req.method} ${req.path}`;
    try {
      const res = await c.request(req);
      if (res.status >= 300) run.failed.push(`${what}: HTTP ${String(res.status)}`);
      else run.answered++;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof Error && err.name === 'RequestTimeoutError') run.timedOut.push(message);
      else if (message.includes('"GOAWAY" frame received with code 0')) run.refusedByDrain.push(what);
      else run.failed.push(`${what}: ${message}`);
    }
  };
  // An anonymous request, which the API server answers by draining its connection (GOAWAY),
  // as it drains connections on a restart, with --goaway-chance or behind a proxy's request limit.
  const drainer = drainEveryMs
    ? setInterval(() => {
        void c.open({ path: '/livez' }).then(async ({ dispatcher, url }) => {
          const res = await send(dispatcher, { origin: url.origin, path: url.pathname, method: 'GET' });
          await res.body.text();
        });
      }, drainEveryMs)
    : undefined;
  try {
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        for (let i = 0; i < REQUESTS_PER_WORKER; i++) await one(w, i);
      }),
    );
  } finally {
    clearInterval(drainer);
    for (const w of watches) w.stop();
  }
}

const summary = (run: Run): string =>
  `${String(run.answered)} answered, ${String(run.timedOut.length)} timed out, ${String(run.refusedByDrain.length)} refused by a drain, ${String(run.failed.length)} failed otherwise, ${String(run.goaways)} GOAWAYs`;

describe('one HTTP/2 connection, many concurrent requests and watches', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await freshNamespace('h2');
  });

  test('with the connection checked every 100 ms: every request answered, the API server never drains the connection', async () => {
    const run = newRun();
    const api = fromKubeConfig(kubeConfigFor('admin'), {
      timeouts: { requestMs: 5000, revocationMs: 500 },
      connectionCheckMs: 100,
      onConnectionRetired: (why) => run.retired.push(why.reason),
    });
    try {
      await load(api, ns, run);
    } finally {
      api.connection.close();
    }
    process.stderr.write(`[h2] checked every 100 ms: ${summary(run)}\n`);
    expect(run.timedOut).toEqual([]);
    expect(run.failed).toEqual([]);
    expect(run.goaways).toBe(0);
    expect(run.answered).toBe(WORKERS * REQUESTS_PER_WORKER);
    expect(run.retired).toEqual([]);
  });

  test("the API server draining the requests' connection every 100 ms: every request answered, none held behind the watches", async () => {
    const run = newRun();
    const api = fromKubeConfig(kubeConfigFor('admin'), {
      timeouts: { requestMs: 5000, revocationMs: 500 },
      onConnectionRetired: (why) => run.retired.push(why.reason),
    });
    try {
      await load(api, ns, run, 100);
    } finally {
      api.connection.close();
    }
    process.stderr.write(`[h2] drained every 100 ms: ${summary(run)}\n`);
    expect(run.goaways).toBeGreaterThan(0); // the API server did drain connections under the load
    // None held until its deadline; a request caught by a drain that undici could not replay
    // fails at once (its caller retries it), and never replaces the connection.
    expect(run.timedOut).toEqual([]);
    expect(run.failed).toEqual([]);
    expect(run.answered + run.refusedByDrain.length).toBe(WORKERS * REQUESTS_PER_WORKER);
    expect(run.retired).toEqual([]);
  });
});
