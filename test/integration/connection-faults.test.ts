// A bad connection must not delay revocation: the operator reaches the API server through
// a fault-injecting TCP proxy (TLS untouched); SubjectAccessReview, asked directly, judges.
import { rbacName } from '../../src/api/names.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { readIndex } from '../../src/kube/grant-index.ts';
import { withFaults, type ApiCall, type ApiFault } from '../support/api-faults.ts';
import { canI, createPod, eventually, freshNamespace, kubeConfigFor } from '../support/cluster.ts';
import { FaultProxy, throughProxy } from '../support/fault-proxy.ts';
import { allRbac, createGrant, deleteGrant, getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const canDebug = (ns: string): Promise<boolean> =>
  canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'api-1' });

/** Polls SubjectAccessReview until access is gone; the time it was. */
async function accessEndedAt(ns: string): Promise<number> {
  await eventually(
    () => canDebug(ns),
    (allowed) => !allowed,
    60_000,
    20,
  );
  return Date.now();
}

describe('connection faults between the operator and the API server', () => {
  let ns: string;
  let proxy: FaultProxy;
  let op: TestOperator | undefined;

  beforeAll(async () => {
    ns = await freshNamespace('faults');
    await createPod(ns, 'api-1', { app: 'checkout' });
  });
  beforeEach(async () => {
    proxy = await FaultProxy.start(kubeConfigFor('admin').getCurrentCluster()?.server ?? '');
  });
  afterEach(async () => {
    await op?.stop();
    op = undefined;
    await proxy.close();
  });

  test('a connection stalled just before the deadline: access ends within 2 s of it, over a fresh connection', async () => {
    op = await startTestOperator([ns], {}, { kubeConfig: throughProxy(kubeConfigFor('admin'), proxy) });
    await createGrant(ns, 'stalled', grantSpec({ ttl: '4s' }));
    const active = await eventually(() => getGrant(ns, 'stalled'), isReady);
    const expiresAt = Date.parse(active?.status?.expiresAt ?? '');
    expect(await canDebug(ns)).toBe(true);
    const acceptedBefore = proxy.accepted;

    // Everything open (requests, watches) hangs from just before the deadline on.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() - 300)));
    expect(proxy.stallAll()).toBeGreaterThan(0);
    const lateness = (await accessEndedAt(ns)) - expiresAt;
    process.stderr.write(`[faults] stalled connection at the deadline: access ended ${String(lateness)} ms after it\n`);
    expect(lateness).toBeLessThan(2000);
    expect(proxy.accepted).toBeGreaterThan(acceptedBefore);
    // The stalled connection is found out (no answer to a probe either) and destroyed.
    const lines = op.lines;
    await eventually(
      () => Promise.resolve(lines.filter((l) => l.msg === 'replaced the connection to the API server')),
      (r) => r.some((l) => l.stalled === true),
      10_000,
    );

    // The rest of the expiry completes over the fresh connection while the old one stays stalled.
    const ended = await eventually(
      () => getGrant(ns, 'stalled'),
      (g) => g?.status?.phase === 'Expired',
      30_000,
    );
    expect(ended?.status?.expiresAt).toBe(active?.status?.expiresAt);
    expect(await rbacFor(ns, 'stalled')).toEqual({ role: false, binding: false });
  });

  test("a RoleBinding apply stalled on the wire across the deadline: capped at the deadline, so the deadline's delete is not held behind it", async () => {
    const notAfter = Date.now() + 8000;
    const bindingName = rbacName('stalled-apply');
    const calls: ApiCall[] = [];
    // Once armed, the next RoleBinding apply (the repair of a hand edit) goes out on a
    // connection that stalls as it is sent (new connections stall too for a moment, so it cannot dodge).
    let armed = false;
    const stallOnSend: ApiFault = {
      operation: 'patchNamespacedRoleBinding',
      when: (p) => p.name === bindingName && armed,
      before: () => {
        armed = false;
        proxy.newConnections('stall');
        proxy.stallAll();
        setTimeout(() => {
          proxy.newConnections('forward');
        }, 300);
        return Promise.resolve();
      },
    };
    op = await startTestOperator(
      [ns],
      {},
      { kubeConfig: throughProxy(kubeConfigFor('admin'), proxy), wrapApi: (api) => withFaults(api, [stallOnSend], calls) },
    );
    await createGrant(ns, 'stalled-apply', grantSpec({ ttl: '1h', notAfter: new Date(notAfter).toISOString() }));
    await eventually(() => getGrant(ns, 'stalled-apply'), isReady);
    expect(await canDebug(ns)).toBe(true);

    // A hand edit shortly before the deadline: the operator's repair is the apply that stalls.
    await new Promise((r) => setTimeout(r, Math.max(0, notAfter - 1500 - Date.now())));
    armed = true;
    const rbac = fromKubeConfig(kubeConfigFor('admin')).rbac;
    const binding = await rbac.readNamespacedRoleBinding({ namespace: ns, name: bindingName });
    await rbac.replaceNamespacedRoleBinding({
      namespace: ns,
      name: bindingName,
      body: { ...binding, subjects: [...(binding.subjects ?? []), { kind: 'User', name: 'bob', apiGroup: 'rbac.authorization.k8s.io' }] },
    });

    const lateness = (await accessEndedAt(ns)) - notAfter;
    const stalled = calls.find((c) => c.operation === 'patchNamespacedRoleBinding' && c.params.name === bindingName && c.calledAt > notAfter - 1500);
    process.stderr.write(
      `[faults] RoleBinding apply stalled on the wire ${String(notAfter - (stalled?.calledAt ?? NaN))} ms before the deadline: it gave up ${String((stalled?.doneAt ?? NaN) - notAfter)} ms after the deadline, access ended ${String(lateness)} ms after it\n`,
    );
    expect(stalled?.calledAt).toBeLessThan(notAfter); // sent before the deadline, on the stalled connection
    expect(stalled?.failed).toBe(true);
    // The apply gives up at the deadline (not after the 10 s request timeout); the delete follows it.
    expect(lateness).toBeLessThan(2000);
    const deletes = calls.filter((c) => c.operation === 'deleteNamespacedRoleBinding' && c.params.name === bindingName);
    expect(deletes.length).toBeGreaterThan(0);
    for (const d of deletes) expect(d.calledAt).toBeGreaterThanOrEqual(stalled?.doneAt ?? Infinity);
    const ended = await eventually(
      () => getGrant(ns, 'stalled-apply'),
      (g) => g?.status?.phase === 'Expired',
      30_000,
    );
    expect(ended?.status?.expiresAt).toBe(new Date(notAfter).toISOString());
    await eventually(
      () => allRbac(ns),
      (r) => r.length === 0,
      30_000,
    );
  });

  test('a connection that stalls while idle is noticed by the periodic check: a grant created meanwhile activates', async () => {
    const calls: ApiCall[] = [];
    op = await startTestOperator([ns], {}, { kubeConfig: throughProxy(kubeConfigFor('admin'), proxy), wrapApi: (api) => withFaults(api, [], calls) });
    const lines = op.lines;
    await eventually(() => Promise.resolve(op?.operator.ready), Boolean);
    // Its last start-up write (the namespace's empty index) answered.
    await eventually(() => readIndex(fromKubeConfig(kubeConfigFor('admin')), ns), Boolean);
    const acceptedBefore = proxy.accepted;
    // The watches wait for events, the pool for requests. Then bytes stop, at a moment none of
    // the operator's requests is in flight (looked at and stalled in one turn of the event
    // loop), so only the idle check can find the stall out, not a request's timeout.
    const stallWhenIdle = (): number | undefined => (calls.some((c) => c.doneAt === undefined) ? undefined : proxy.stallAll());
    const stalled = await eventually(
      () => Promise.resolve(stallWhenIdle()),
      (n) => n !== undefined,
    );
    const stalledAt = Date.now();
    await createGrant(ns, 'idle-stall', grantSpec({ ttl: '1h' }));
    const replaced = await eventually(
      () => Promise.resolve(lines.find((l) => l.msg === 'replaced the connection to the API server' && l.stalled === true)),
      Boolean,
      30_000,
    );
    const noticedMs = Date.parse(String(replaced?.time)) - stalledAt;
    await eventually(() => getGrant(ns, 'idle-stall'), isReady, 30_000);
    const activatedMs = Date.now() - stalledAt;
    process.stderr.write(
      `[faults] ${String(stalled)} idle connection(s) stalled: noticed after ${String(noticedMs)} ms, a grant created meanwhile Ready ${String(activatedMs)} ms after the stall\n`,
    );
    expect(replaced?.reason).toMatch(/idle check got no answer/);
    // At most one check period (10 s) plus its 3 s answer time, and slack for a loaded machine.
    expect(noticedMs).toBeLessThan(16_000);
    expect(activatedMs).toBeLessThan(22_000);
    expect(proxy.accepted).toBeGreaterThan(acceptedBefore);
    expect(await canDebug(ns)).toBe(true);
    await deleteGrant(ns, 'idle-stall'); // the next tests judge access to the same pod
    await accessEndedAt(ns);
  });

  test('every connection reset and new ones refused around the deadline: access ends within the outage plus the retry bound', async () => {
    op = await startTestOperator([ns], {}, { kubeConfig: throughProxy(kubeConfigFor('admin'), proxy) });
    await createGrant(ns, 'reset', grantSpec({ ttl: '4s' }));
    const active = await eventually(() => getGrant(ns, 'reset'), isReady);
    const expiresAt = Date.parse(active?.status?.expiresAt ?? '');

    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() - 300)));
    proxy.newConnections('reset');
    expect(proxy.cutAll()).toBeGreaterThan(0);
    const outageMs = 3000;
    setTimeout(() => {
      proxy.newConnections('forward');
    }, outageMs - 300);
    const lateness = (await accessEndedAt(ns)) - expiresAt;
    process.stderr.write(`[faults] connections reset for ${String(outageMs)} ms around the deadline: access ended ${String(lateness)} ms after it\n`);
    // A failing revocation is retried at least every second: access ends within about a
    // second of the outage's end (it ends 2.7 s after the deadline; 2 s of slack for a loaded machine).
    expect(lateness).toBeLessThan(outageMs - 300 + 1000 + 2000);
    await eventually(
      () => getGrant(ns, 'reset'),
      (g) => g?.status?.phase === 'Expired',
      30_000,
    );
    expect(await rbacFor(ns, 'reset')).toEqual({ role: false, binding: false });
  });

  test('an outage across the deadline: not ready meanwhile, ready and revoked within 5 s of the return', async () => {
    op = await startTestOperator([ns], {}, { kubeConfig: throughProxy(kubeConfigFor('admin'), proxy) });
    const operator = op.operator;
    await createGrant(ns, 'outage', grantSpec({ ttl: '3s' }));
    const active = await eventually(() => getGrant(ns, 'outage'), isReady);
    const expiresAt = Date.parse(active?.status?.expiresAt ?? '');

    // The API server is unreachable from 1 s before the deadline for 8 s (30 s in trials).
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() - 1000)));
    await proxy.refuse(true);
    const outageMs = 8000;
    await eventually(
      () => Promise.resolve(operator.ready),
      (ready) => !ready,
      outageMs - 1000,
    );
    expect(await canDebug(ns)).toBe(true); // nobody could revoke it meanwhile
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - 1000 + outageMs - Date.now())));
    await proxy.refuse(false);
    const back = Date.now();

    const revoked = (await accessEndedAt(ns)) - back;
    await eventually(() => Promise.resolve(operator.ready), Boolean, 15_000);
    const ready = Date.now() - back;
    process.stderr.write(
      `[faults] ${String(outageMs)} ms outage across the deadline: access ended ${String(revoked)} ms and /readyz true ${String(ready)} ms after the API server answered again\n`,
    );
    expect(revoked).toBeLessThan(5000);
    expect(ready).toBeLessThan(5000);
    await eventually(
      () => getGrant(ns, 'outage'),
      (g) => g?.status?.phase === 'Expired',
      30_000,
    );
  });
});
