// A 30 s outage across a deadline: the operator, as its own process (src/main.ts, its real
// /readyz), reaches the API server through a TCP proxy that refuses every connection for 30 s,
// from 5 s before a grant's deadline. Meanwhile /readyz says not ready and nobody can revoke;
// once the API server answers again, access ends and /readyz is true within a few seconds.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperatorProcess } from '../../hack/operator-process.ts';
import { canI, createPod, eventually, freshNamespace, kubeConfigFor, plane } from '../support/cluster.ts';
import { FaultProxy, throughProxy } from '../support/fault-proxy.ts';
import { createGrant, getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { spawnTestOperator } from '../support/operator.ts';

const OUTAGE_MS = 30_000;
const OUTAGE_BEFORE_DEADLINE_MS = 5_000;
/** "Within a few seconds" of the API server's return. */
const RECOVERY_BOUND_MS = 5_000;

describe('a 30 s API server outage across a deadline', () => {
  let proxy: FaultProxy;
  let op: OperatorProcess | undefined;
  afterAll(async () => {
    await op?.stop();
    await proxy.close();
  });

  test('not ready during it; revoked and /readyz true within 5 s of the return; the record truthful', async () => {
    const ns = await freshNamespace('outage');
    await createPod(ns, 'api-1', { app: 'checkout' });
    proxy = await FaultProxy.start(kubeConfigFor('admin').getCurrentCluster()?.server ?? '');
    const kubeconfig = join(plane().dir, `outage-${ns}.kubeconfig`);
    writeFileSync(kubeconfig, throughProxy(kubeConfigFor('admin'), proxy).exportConfig());
    op = await spawnTestOperator(`outage-${ns}`, [ns], {}, {}, kubeconfig);
    const operator = op;
    await operator.waitUntilReady(90_000);
    const canDebug = (): Promise<boolean> =>
      canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'api-1' });

    await createGrant(ns, 'outage', grantSpec({ ttl: '15s' }));
    const active = await eventually(() => getGrant(ns, 'outage'), isReady, 30_000);
    const expiresAt = Date.parse(active?.status?.expiresAt ?? '');
    expect(await canDebug()).toBe(true);

    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - OUTAGE_BEFORE_DEADLINE_MS - Date.now())));
    const down = Date.now();
    await proxy.refuse(true);
    await eventually(
      () => operator.ready(),
      (ready) => !ready,
      OUTAGE_MS - 5000,
      100,
    );
    const notReadyAfter = Date.now() - down;
    // Past the deadline, with nobody able to reach the API server, the access is still there.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt + 1000 - Date.now())));
    expect(await canDebug()).toBe(true);
    expect(await operator.ready()).toBe(false);
    await new Promise((r) => setTimeout(r, Math.max(0, down + OUTAGE_MS - Date.now())));
    await proxy.refuse(false);
    const back = Date.now();

    await eventually(canDebug, (allowed) => !allowed, 30_000, 20);
    const revoked = Date.now() - back;
    await eventually(() => operator.ready(), Boolean, 30_000, 50);
    const ready = Date.now() - back;
    process.stderr.write(
      `[outage] ${String(OUTAGE_MS)} ms outage from ${String(OUTAGE_BEFORE_DEADLINE_MS)} ms before the deadline: /readyz false ${String(notReadyAfter)} ms into it; access ended ${String(revoked)} ms and /readyz true ${String(ready)} ms after the API server answered again\n`,
    );
    expect(revoked).toBeLessThan(RECOVERY_BOUND_MS);
    expect(ready).toBeLessThan(RECOVERY_BOUND_MS);

    // The record: Expired at the deadline it always had, nothing left, one audit line per change.
    const ended = await eventually(
      () => getGrant(ns, 'outage'),
      (g) => g?.status?.phase === 'Expired',
      30_000,
    );
    expect(ended?.status?.expiresAt).toBe(active?.status?.expiresAt);
    expect(await rbacFor(ns, 'outage')).toEqual({ role: false, binding: false });
    const audits = readFileSync(operator.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"audit"'))
      .map((l) => (JSON.parse(l) as { audit: { event: string; grant: string } }).audit)
      .filter((a) => a.grant === `${ns}/outage`);
    expect(audits.map((a) => a.event).filter((e) => e !== 'grant.revocation-verified')).toEqual(['grant.activated', 'grant.expired']);
  }, 180_000);
});
