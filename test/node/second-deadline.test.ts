// Access ends on time with no debuggrant process running: the grant's timer Job fails at its
// activeDeadlineSeconds, kube-controller-manager's TTL-after-finished controller deletes it and
// the garbage collector deletes the RoleBinding it alone owns (src/revocation/timer-job.ts).
// Judged by SubjectAccessReview for every verb the grant gave, polled every 100 ms.
import { permissionsFor, type AccessKind } from '../../src/api/access.ts';
import { rbacName } from '../../src/api/names.ts';
import { canI, clientsFor, eventually, freshNamespace, statusCode } from '../support/cluster.ts';
import { getGrant } from '../support/grants.ts';
import { startTestOperator } from '../support/operator.ts';
import { activeGrant, describeOnNode, runningPod, testNode } from '../support/node.ts';

const ACCESS: AccessKind[] = ['debug', 'exec', 'attach', 'portForward', 'logs'];
/** Generous for a loaded machine; the target (p99 <= 3 s) is measured by `npm run bench -- second-deadline`. */
const BOUND_MS = 8_000;

/** Every verb on every subresource the grant gave alice, as SubjectAccessReview answers now. */
async function allowedNow(namespace: string, pod: string): Promise<string[]> {
  const checks = permissionsFor(ACCESS).flatMap((p) => p.verbs.map((verb) => ({ verb, subresource: p.subresource })));
  const answers = await Promise.all(
    checks.map(async (c) => ({
      c,
      allowed: await canI({ user: 'alice', namespace, verb: c.verb, resource: 'pods', subresource: c.subresource || undefined, name: pod }),
    })),
  );
  return answers.filter((a) => a.allowed).map(({ c }) => `${c.verb} pods${c.subresource ? '/' + c.subresource : ''}`);
}

/**
 * Polls until no verb is allowed; when that answer came (ms since epoch), or undefined past `until`.
 * The answer's arrival, not the review's send: access had ended by then, while a review sent just
 * before the deadline may be judged after it on a loaded machine (a CI run read -105 ms so).
 */
async function accessEndsAt(namespace: string, pod: string, until: number): Promise<number | undefined> {
  while (Date.now() < until) {
    if ((await allowedNow(namespace, pod)).length === 0) return Date.now();
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

const exists = (p: Promise<unknown>): Promise<boolean> =>
  p.then(
    () => true,
    (err: unknown) => {
      if (statusCode(err) === 404) return false;
      throw err;
    },
  );

describeOnNode("the second deadline: Kubernetes' controllers end access with no operator running", () => {
  test('every operator stopped before the deadline: access for every verb ends within the bound; a restarted operator records who ended it, once', async () => {
    const ns = await freshNamespace('second-deadline');
    await runningPod(ns, 'web-1', { app: 'web' });
    const op = await startTestOperator([ns]);
    const { expiresAt } = await activeGrant(ns, 'g', { app: 'web' }, { ttl: '15s', access: ACCESS });
    expect(await allowedNow(ns, 'web-1')).toHaveLength(permissionsFor(ACCESS).flatMap((p) => p.verbs).length);
    await op.stop();
    expect(Date.now()).toBeLessThan(expiresAt);

    const endedAt = await accessEndsAt(ns, 'web-1', expiresAt + BOUND_MS);
    const lateness = endedAt === undefined ? undefined : endedAt - expiresAt;
    process.stderr.write(`[second-deadline] access ended ${String(lateness)} ms after the deadline with no operator running\n`);
    expect(lateness).toBeDefined();
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThanOrEqual(BOUND_MS);
    // The controllers took the RoleBinding (and the timer); the grant's Role stays until the operator returns.
    expect(await exists(clientsFor('admin').rbac.readNamespacedRoleBinding({ namespace: ns, name: rbacName('g') }))).toBe(false);
    const armed = await getGrant(ns, 'g');
    expect(armed?.status?.conditions?.find((c) => c.type === 'SecondDeadline')).toMatchObject({ status: 'True', reason: 'TimerArmed' });

    const back = await startTestOperator([ns]);
    try {
      const ended = await eventually(
        () => getGrant(ns, 'g'),
        (g) => g?.status?.phase === 'Expired',
        30_000,
        200,
      );
      expect(ended?.status?.expiresAt).toBe(new Date(expiresAt).toISOString());
      const lines = await eventually(
        () => Promise.resolve(back.audits().filter((a) => a.grant === `${ns}/g` && a.event === 'grant.expired')),
        (l) => l.length > 0,
        10_000,
      );
      await new Promise((r) => setTimeout(r, 1000));
      expect(back.audits().filter((a) => a.grant === `${ns}/g` && a.event === 'grant.expired')).toHaveLength(1);
      expect(lines[0]?.by).toBe('kube-controller-manager (timer Job)');
      // The operator deleted nothing that ended access: no revocation lateness of its own.
      expect(await back.operator.metrics.registry.getSingleMetricAsString('debuggrant_revocation_lateness_seconds')).toMatch(/_count 0$/m);
      expect(await back.operator.metrics.registry.getSingleMetricAsString('debuggrant_expiries_total')).toMatch(
        /^debuggrant_expiries_total\{ended_by="timer_job"\} 1$/m,
      );
      expect(await back.operator.metrics.registry.getSingleMetricAsString('debuggrant_expiries_total')).not.toMatch(/ended_by="operator"/);
      const events = await eventually(
        () => clientsFor('admin').core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=g,reason=TTLElapsed' }),
        (l) => l.items.length > 0,
      );
      expect(events.items).toHaveLength(1);
      expect(events.items[0]?.message).toContain('access was ended by kube-controller-manager (timer Job), before the operator');
      expect(await exists(clientsFor('admin').rbac.readNamespacedRole({ namespace: ns, name: rbacName('g') }))).toBe(false);
    } finally {
      await back.stop();
    }
  }, 120_000);

  test('a namespace deleted with an active grant: the namespace controller, the garbage collector and the operator take it all away, and the namespace goes', async () => {
    const ns = await freshNamespace('second-deadline-nsdel');
    await runningPod(ns, 'web-1', { app: 'web' });
    const op = await startTestOperator([ns]);
    try {
      await activeGrant(ns, 'g', { app: 'web' }, { ttl: '1h', access: ['exec'] });
      await clientsFor('admin').core.deleteNamespace({ name: ns });
      // Access ends (the namespace controller deletes the RoleBinding, the timer or the grant, whichever first).
      expect(await accessEndsAt(ns, 'web-1', Date.now() + 60_000)).toBeDefined();
      // The grant's finalizer is the operator's: the namespace can only go once it let the grant go.
      await eventually(
        () => exists(clientsFor('admin').core.readNamespace({ name: ns })),
        (e) => !e,
        90_000,
        500,
      );
      const ended = op.audits().filter((a) => a.grant === `${ns}/g` && (a.event === 'grant.revoked' || a.event === 'grant.expired'));
      expect(ended.map((a) => `${a.event} ${a.by}`)).toEqual(['grant.revoked test-operator']);
    } finally {
      await op.stop();
    }
  }, 150_000);

  test('with the operator running it ends access itself, counted once, and removes the timer', async () => {
    const ns = await freshNamespace('second-deadline-up');
    await runningPod(ns, 'web-1', { app: 'web' });
    const op = await startTestOperator([ns]);
    try {
      const { expiresAt } = await activeGrant(ns, 'g', { app: 'web' }, { ttl: '10s', access: ['exec'] });
      await eventually(
        () => getGrant(ns, 'g'),
        (g) => g?.status?.conditions?.find((c) => c.type === 'SecondDeadline')?.reason === 'TimerArmed',
        10_000,
        100,
      );
      const endedAt = await accessEndsAt(ns, 'web-1', expiresAt + BOUND_MS);
      expect(endedAt).toBeDefined();
      const lines = await eventually(
        () => Promise.resolve(op.audits().filter((a) => a.grant === `${ns}/g` && a.event === 'grant.expired')),
        (l) => l.length > 0,
        10_000,
      );
      expect(lines.map((l) => l.by)).toEqual(['test-operator']);
      expect(await op.operator.metrics.registry.getSingleMetricAsString('debuggrant_revocation_lateness_seconds')).toMatch(/_count 1$/m);
      expect(await op.operator.metrics.registry.getSingleMetricAsString('debuggrant_expiries_total')).toMatch(
        /^debuggrant_expiries_total\{ended_by="operator"\} 1$/m,
      );
      await eventually(
        () => exists(clientsFor('admin').batch.readNamespacedJob({ namespace: ns, name: 'debuggrant-timer-g' })),
        (e) => !e,
        10_000,
        100,
      );
    } finally {
      await op.stop();
    }
  }, 90_000);

  test('a Job controller that starts the timer late: the grant says so meanwhile, then the operator shortens the timer so it still fires at the first whole second at or after the deadline', async () => {
    const ns = await freshNamespace('second-deadline-late');
    await runningPod(ns, 'web-1', { app: 'web' });
    const op = await startTestOperator([ns]);
    const controllerManager = testNode().pids.controllerManager ?? 0;
    const secondDeadline = async () => (await getGrant(ns, 'g'))?.status?.conditions?.find((c) => c.type === 'SecondDeadline');
    let expiresAt = 0;
    try {
      // Paused for a few seconds (other test files' garbage collection waits meanwhile; they allow a minute).
      process.kill(controllerManager, 'SIGSTOP');
      try {
        ({ expiresAt } = await activeGrant(ns, 'g', { app: 'web' }, { ttl: '25s', access: ['exec'] }));
        const none = await eventually(secondDeadline, (c) => c?.reason === 'NoJobController', 15_000, 200);
        expect(none?.status).toBe('False');
      } finally {
        process.kill(controllerManager, 'SIGCONT');
      }
      const armed = await eventually(secondDeadline, (c) => c?.reason === 'TimerArmed', 20_000, 200);
      expect(armed?.status).toBe('True');
      const job = await eventually(
        () => clientsFor('admin').batch.readNamespacedJob({ namespace: ns, name: 'debuggrant-timer-g' }),
        (j) => (j.status?.startTime?.getTime() ?? 0) + (j.spec?.activeDeadlineSeconds ?? 0) * 1000 === Math.ceil(expiresAt / 1000) * 1000,
        10_000,
        200,
      );
      // Started at least 5 s after it was created, so its first deadline was shortened.
      const created = job.metadata?.creationTimestamp?.getTime() ?? 0;
      expect((job.status?.startTime?.getTime() ?? 0) - created).toBeGreaterThanOrEqual(5000);
      expect(created + (job.spec?.activeDeadlineSeconds ?? 0) * 1000).toBeLessThan(expiresAt);
    } finally {
      await op.stop();
    }
    const endedAt = await accessEndsAt(ns, 'web-1', expiresAt + BOUND_MS);
    expect(endedAt).toBeDefined();
    expect((endedAt ?? 0) - expiresAt).toBeGreaterThanOrEqual(0);
  }, 120_000);
});
