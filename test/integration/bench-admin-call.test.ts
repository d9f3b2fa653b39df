// The cluster bench's own requests (bench/pod-fill.ts adminCall), against the real API server:
// a DELETE's body must reach it framed. Unframed (Node sends no Content-Length for a DELETE
// unless told), the API server read the body as none, so a pod's grace period of 0 was ignored
// and the pod stayed terminating, and read the body's bytes as the start of the next request
// on the same kept-alive connection, which got a plain-text 400: the 50,000-pod fill's last
// GET after the template pod's DELETE, and a churn write after each churn DELETE.
import { adminCall } from '../../bench/pod-fill.ts';
import { freshNamespace, plane } from '../support/cluster.ts';
import { realisticPodSpec } from '../support/pods.ts';

const IMAGE = `registry.example.com/shop/app@sha256:${'b'.repeat(64)}`;

describe('the bench admin call (real API server)', () => {
  let namespace: string;

  beforeAll(async () => {
    namespace = await freshNamespace('bench-admin-call');
  });

  it('sends a DELETE body the API server reads, and the next request on the connection is answered', async () => {
    const state = plane();
    const base = `/api/v1/namespaces/${namespace}/pods`;
    // Scheduled (nodeName set) and with the default 30 s grace: only the body's
    // gracePeriodSeconds 0 removes it at once; without it, it waits for a kubelet that never comes.
    await adminCall(state, 'POST', base, realisticPodSpec('doomed', { app: 'doomed' }, IMAGE));
    await adminCall(state, 'DELETE', `${base}/doomed`, { gracePeriodSeconds: 0 });
    // Sequential calls: this one goes out on the connection the DELETE just freed.
    const after = (await adminCall(state, 'GET', `${base}?fieldSelector=metadata.name%3Ddoomed`)) as { items: unknown[] };
    expect(after.items).toEqual([]);
    // And once more, as the fill's wait loop does: every request on the kept-alive pool is answered.
    for (let i = 0; i < 3; i++) {
      const list = (await adminCall(state, 'GET', `${base}?resourceVersion=0`)) as { items: unknown[] };
      expect(list.items).toEqual([]);
    }
  });
});
