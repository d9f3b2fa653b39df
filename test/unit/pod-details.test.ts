// The pod cache's rule for reading a pod whole (src/kube/pod-details.ts): only pods whose
// spec changed since creation (generation > 1), again whenever such a pod with ephemeral
// containers moves, never twice at once, retried after a failure. The read is a stand-in
// for a GET; that the API server raises the generation when an ephemeral container is added,
// and sends metadata only, is tested against it in test/integration/informer.test.ts.
import { ApiError } from '../../src/kube/api-error.ts';
import type { CachedPod } from '../../src/kube/cached.ts';
import { PodCache, PodDetails } from '../../src/kube/pod-details.ts';
import { FakeClock } from '../support/fake-clock.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const meta = (name: string, generation: number, resourceVersion: string): CachedPod => ({
  metadata: { name, namespace: 'shop', generation, resourceVersion, labels: { app: 'cart' } },
});
const whole = (name: string, generation: number, resourceVersion: string, ephemeral: boolean) => ({
  metadata: { name, namespace: 'shop', generation, resourceVersion },
  spec: { containers: [{ name: 'app', image: 'app' }], ...(ephemeral ? { ephemeralContainers: [{ name: 'dbg', image: 'dbg' }] } : {}) },
  status: {
    phase: 'Running',
    ...(ephemeral ? { ephemeralContainerStatuses: [{ name: 'dbg', image: 'dbg', state: { running: { startedAt: '2026-12-05T01:00:00Z' } } }] } : {}),
  },
});

function setup(answer: (name: string) => Promise<unknown>) {
  const reads: string[] = [];
  const changed: CachedPod[] = [];
  const clock = new FakeClock();
  const details = new PodDetails({
    clock,
    read: (_ns, name) => {
      reads.push(name);
      return answer(name);
    },
    changed: (p) => changed.push(p),
  });
  return { reads, changed, clock, details };
}

describe('PodDetails', () => {
  test('a pod whose spec never changed (generation 1) is never read: its metadata is all the cache holds', async () => {
    const { reads, details } = setup(() => Promise.reject(new Error('not expected')));
    details.observe(meta('a', 1, '10'), 'add');
    details.observe(meta('a', 1, '11'), 'update');
    await details.settled();
    expect(reads).toEqual([]);
    expect(details.merged(meta('a', 1, '11'))).toEqual(meta('a', 1, '11'));
  });

  test('generation 2 (an ephemeral container added): read whole, merged on the current metadata, told, and read again as it moves', async () => {
    let rv = '20';
    const { reads, changed, details } = setup(() => Promise.resolve(whole('a', 2, rv, true)));
    details.observe(meta('a', 2, '20'), 'update');
    await details.settled();
    expect(reads).toEqual(['a']);
    expect(changed.map((p) => p.status?.ephemeralContainerStatuses?.[0]?.name)).toEqual(['dbg']);
    const merged = details.merged(meta('a', 2, '20'));
    expect(merged).toMatchObject({ metadata: { labels: { app: 'cart' } }, spec: { ephemeralContainers: [{ name: 'dbg' }] }, status: { phase: 'Running' } });
    // The same resourceVersion again: nothing to read. A new one (the kubelet wrote the container's state): read again.
    details.observe(meta('a', 2, '20'), 'update');
    rv = '21';
    details.observe(meta('a', 2, '21'), 'update');
    await details.settled();
    expect(reads).toEqual(['a', 'a']);
    expect(new PodCache({ get: () => meta('a', 2, '21'), list: () => [meta('a', 2, '21')] }, details).list()[0]?.spec?.ephemeralContainers).toHaveLength(1);
  });

  test('a changed spec without ephemeral containers (resized in place) is read once per generation, not at every status write', async () => {
    const { reads, details } = setup(() => Promise.resolve(whole('r', 2, '30', false)));
    details.observe(meta('r', 2, '30'), 'update');
    await details.settled();
    details.observe(meta('r', 2, '31'), 'update');
    details.observe(meta('r', 2, '32'), 'update');
    await details.settled();
    expect(reads).toEqual(['r']);
    expect(details.merged(meta('r', 2, '32')).spec).toBeUndefined();
    details.observe(meta('r', 3, '33'), 'update');
    await details.settled();
    expect(reads).toEqual(['r', 'r']);
  });

  test('reads of one pod never overlap: changes during a read give one more read after it', async () => {
    let release: () => void = () => undefined;
    const { reads, details } = setup(
      () =>
        new Promise((resolve) => {
          release = () => {
            resolve(whole('a', 2, '41', true));
          };
        }),
    );
    details.observe(meta('a', 2, '40'), 'update');
    details.observe(meta('a', 2, '41'), 'update');
    details.observe(meta('a', 2, '42'), 'update');
    expect(reads).toEqual(['a']);
    release();
    await tick();
    await tick();
    expect(reads).toEqual(['a', 'a']);
    release();
    await details.settled();
  });

  test('a deleted pod is forgotten, and a failed read is retried after the one retry delay (Retry-After honoured)', async () => {
    let fail = true;
    const { reads, clock, details } = setup(() =>
      fail ? Promise.reject(new ApiError(429, 'HTTP 429', '', { 'retry-after': '2' })) : Promise.resolve(whole('a', 2, '50', true)),
    );
    details.observe(meta('a', 2, '50'), 'update');
    await details.settled();
    expect(reads).toEqual(['a']);
    expect(clock.requestedDelays[0]).toBeGreaterThanOrEqual(2000);
    fail = false;
    clock.advance(3000);
    await details.settled();
    expect(reads).toEqual(['a', 'a']);
    expect(details.size).toBe(1);
    details.observe(meta('a', 2, '50'), 'delete');
    expect(details.size).toBe(0);
    expect(details.merged(meta('a', 2, '50')).spec).toBeUndefined();
  });
});
