// Debug sessions recorded against their grant: a debug container added by the grant's subject
// (a real PATCH the admission policy lets through), started and ended as a kubelet reports it
// (status writes of the kubelet's shape), appears in the grant's status and in one
// session.started and one session.ended audit line, even across an operator restart.
import { clientsFor, createPod, eventually, freshNamespace, kubectl, plane, readAuditLog, writePodStatus } from '../support/cluster.ts';
import { addEphemeralContainer, bindRole, debugContainer, kubeletState, second, standingDebugRbac, subjects } from '../support/debug-containers.ts';
import { createGrant, getGrant, grantSpec } from '../support/grants.ts';
import { DEBUG_IMAGE, startTestOperator, type TestOperator } from '../support/operator.ts';
import { SESSIONS_ANNOTATION } from '../../src/api/names.ts';
import { wrapCalls } from '../../src/kube/wrap-calls.ts';
import { serverError } from '../support/api-faults.ts';
import type { AuditRecord } from '../../src/log.ts';

describe('debug sessions under a grant', () => {
  let ns: string;
  let op: TestOperator;
  beforeAll(async () => {
    ns = await freshNamespace('sessions');
    await createPod(ns, 'checkout-1', { app: 'checkout' });
    op = await startTestOperator([ns]);
  });
  afterAll(async () => {
    await op.stop();
  });

  test('started and ended as the kubelet reports them: in status, one audit line each, counted in kubectl get -o wide', async () => {
    await createGrant(ns, 'inc-4211', grantSpec());
    const active = await eventually(
      () => getGrant(ns, 'inc-4211'),
      (g) => g?.status?.phase === 'Active' && g.status.pods?.length === 1,
    );
    expect(active?.status?.sessions).toBeUndefined();
    // As alice, through the admission policy: the grant's image and profile.
    await addEphemeralContainer(
      'alice',
      ns,
      'checkout-1',
      debugContainer('debugger-x7k2p', DEBUG_IMAGE, 'restricted', {
        command: ['sh', '-c', 'tcpdump -i any port 8080'],
        targetContainerName: 'app',
      }),
    );
    const started = second(Date.now());
    await writePodStatus(ns, 'checkout-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('debugger-x7k2p', started)] });

    const recorded = await eventually(
      () => getGrant(ns, 'inc-4211'),
      (g) => (g?.status?.sessions?.length ?? 0) > 0,
    );
    expect(recorded?.status?.sessionCount).toBe(1);
    expect(recorded?.status?.sessions).toEqual([
      {
        pod: 'checkout-1',
        container: 'debugger-x7k2p',
        image: DEBUG_IMAGE,
        profile: 'restricted',
        target: 'app',
        command: "sh -c 'tcpdump -i any port 8080'",
        startedAt: started.toISOString().replace('.000', ''),
      },
    ]);
    const wide = await kubectl('admin', ['get', 'dg', 'inc-4211', '-n', ns, '-o', 'wide']);
    // Read the column by its header's position: other -o wide columns (Bounded) follow it, some may be empty.
    const [header = '', row = ''] = wide.stdout.split('\n');
    expect(header).toMatch(/\bSESSIONS\b/);
    expect(row.slice(header.indexOf('SESSIONS')).split(/\s+/)[0]).toBe('1');

    const finished = second(Date.now() + 1000);
    await writePodStatus(ns, 'checkout-1', { ephemeralContainerStatuses: [kubeletState('debugger-x7k2p', started, { at: finished, exitCode: 130 })] });
    const ended = await eventually(
      () => getGrant(ns, 'inc-4211'),
      (g) => g?.status?.sessions?.[0]?.finishedAt !== undefined,
    );
    expect(ended?.status?.sessions?.[0]).toMatchObject({ finishedAt: finished.toISOString().replace('.000', ''), exitCode: 130, endedByDeadline: true });
    await eventually(
      () => Promise.resolve(op.audits().filter((a) => a.event === 'session.ended')),
      (l) => l.length > 0,
    );

    const lines = op.audits().filter((a) => a.event.startsWith('session.'));
    expect(lines.map((a) => [a.event, a.grant, a.subject, a.pods, a.at, a.reason])).toEqual([
      ['session.started', `${ns}/inc-4211`, 'User alice', ['checkout-1'], started.toISOString().replace('.000', ''), 'Started'],
      ['session.ended', `${ns}/inc-4211`, 'User alice', ['checkout-1'], finished.toISOString().replace('.000', ''), 'EndedInTime'],
    ]);
    expect(lines[0]?.session).toMatchObject({ container: 'debugger-x7k2p', command: "sh -c 'tcpdump -i any port 8080'", target: 'app' });
  });

  test('a restarted operator derives from the status what it already told: no second session.started', async () => {
    await createPod(ns, 'checkout-2', { app: 'restart' });
    await createGrant(ns, 'restart-check', grantSpec({ podSelector: { matchLabels: { app: 'restart' } } }));
    await eventually(
      () => getGrant(ns, 'restart-check'),
      (g) => g?.status?.phase === 'Active' && g.status.pods?.length === 1,
    );
    await addEphemeralContainer('alice', ns, 'checkout-2', debugContainer('dbg', DEBUG_IMAGE, 'restricted'));
    const started = second(Date.now());
    await writePodStatus(ns, 'checkout-2', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('dbg', started)] });
    await eventually(
      () => getGrant(ns, 'restart-check'),
      (g) => g?.status?.sessionCount === 1,
    );
    await op.stop();
    op = await startTestOperator([ns]);
    // The new operator has looked at the grant (and its pod with the running session).
    await eventually(() => Promise.resolve(op.lines.some((l) => l.msg === 'reconciled' && l.name === 'restart-check')), Boolean);
    // And a later change of the pod is still seen: the session ends, once.
    await writePodStatus(ns, 'checkout-2', { ephemeralContainerStatuses: [kubeletState('dbg', started, { at: second(Date.now()), exitCode: 0 })] });
    await eventually(
      () => Promise.resolve(op.audits().filter((a) => a.grant === `${ns}/restart-check` && a.event === 'session.ended')),
      (l) => l.length === 1,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${JSON.stringify(op.lines.filter((l) => l.name === 'restart-check' || l.level !== 30).slice(-20))}`);
    });
    expect(op.audits().filter((a) => a.event === 'session.started')).toEqual([]);
    expect((await getGrant(ns, 'restart-check'))?.status?.sessionCount).toBe(1);
  });

  test('a status write whose answer is lost after it landed: the session is told once all the same', async () => {
    // Its own operator, whose first status write recording a session lands and then "loses" its answer.
    const where = await freshNamespace('sessions-lost');
    let lost = 0;
    const lossy = await startTestOperator(
      [where],
      {},
      {
        wrapApi: (api) =>
          wrapCalls(api, async (operation, args, send) => {
            const result = await send();
            const body = (args[0] as { body?: { status?: { sessionCount?: number } } } | undefined)?.body;
            if (operation === 'patchNamespacedCustomObjectStatus' && body?.status?.sessionCount === 1 && lost++ === 0) throw serverError(503);
            return result;
          }),
      },
    );
    try {
      await createPod(where, 'lost-1', { app: 'lost' });
      await createGrant(where, 'lost', grantSpec({ podSelector: { matchLabels: { app: 'lost' } } }));
      await eventually(
        () => getGrant(where, 'lost'),
        (g) => g?.status?.phase === 'Active' && g.status.pods?.length === 1,
      );
      await addEphemeralContainer('alice', where, 'lost-1', debugContainer('dbg', DEBUG_IMAGE, 'restricted'));
      await writePodStatus(where, 'lost-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('dbg', second(Date.now()))] });
      await eventually(
        () => Promise.resolve(lossy.audits().filter((a) => a.event === 'session.started')),
        (l) => l.length > 0,
      );
      expect(lost).toBeGreaterThan(0);
      // A later look (the pod changes) tells nothing more.
      await writePodStatus(where, 'lost-1', { conditions: [{ type: 'Ready', status: 'True' }] });
      await eventually(
        () => Promise.resolve(lossy.lines.filter((l) => l.msg === 'reconciled' && l.name === 'lost').length),
        (n) => n >= 3,
      );
      expect(
        lossy
          .audits()
          .filter((a) => a.event === 'session.started')
          .map((a) => a.grant),
      ).toEqual([`${where}/lost`]);
    } finally {
      await lossy.stop();
    }
  });

  test("a debug container on a pod the grant does not cover, or with another image, is not the grant's session", async () => {
    await createPod(ns, 'other-1', { app: 'other' });
    await createGrant(ns, 'narrow', grantSpec({ podSelector: { matchLabels: { app: 'narrow' } } }));
    await createPod(ns, 'narrow-1', { app: 'narrow' });
    await eventually(
      () => getGrant(ns, 'narrow'),
      (g) => g?.status?.phase === 'Active' && g.status.pods?.length === 1,
    );
    // The admin (outside any grant) on a pod the grant does not list.
    await addEphemeralContainer('admin', ns, 'other-1', debugContainer('outside', DEBUG_IMAGE, 'restricted'));
    await writePodStatus(ns, 'other-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('outside', second(Date.now()))] });
    // The grant's own pod gets one by alice: that one is recorded, the other not.
    await addEphemeralContainer('alice', ns, 'narrow-1', debugContainer('inside', DEBUG_IMAGE, 'restricted'));
    await writePodStatus(ns, 'narrow-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('inside', second(Date.now()))] });
    const g = await eventually(
      () => getGrant(ns, 'narrow'),
      (x) => (x?.status?.sessionCount ?? 0) > 0,
    );
    expect(g?.status?.sessions?.map((s) => `${s.pod}/${s.container}`)).toEqual(['narrow-1/inside']);
    const pod = await clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'other-1' });
    expect(pod.spec?.ephemeralContainers?.map((c) => c.name)).toEqual(['outside']);
  });
});

describe('debug sessions outside any grant, recorded against the pod', () => {
  let ns: string;
  let op: TestOperator;
  beforeAll(async () => {
    ns = await freshNamespace('outside');
    await createPod(ns, 'lonely-1', { app: 'lonely' });
    op = await startTestOperator([ns]);
  });
  afterAll(async () => {
    await op.stop();
  });

  const outside = (): AuditRecord[] => op.audits().filter((a) => a.event.startsWith('session.') && a.pods.includes('lonely-1'));

  test('a break-glass debug container: a Warning Event and one session.started, one session.ended, even across a restart', async () => {
    // The admin is break-glass (system:masters): admission lets it in with no grant.
    await addEphemeralContainer('admin', ns, 'lonely-1', debugContainer('sneaky', DEBUG_IMAGE, 'restricted', { command: ['sh', '-c', 'cat /etc/shadow'] }));
    const started = second(Date.now());
    await writePodStatus(ns, 'lonely-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('sneaky', started)] });
    const lines = await eventually(
      () => Promise.resolve(outside()),
      (l) => l.length > 0,
    );
    expect(lines.map((a) => [a.event, a.grant, a.subject, a.at, a.reason, a.session?.command])).toEqual([
      ['session.started', '', '', started.toISOString().replace('.000', ''), 'OutsideAnyGrant', "sh -c 'cat /etc/shadow'"],
    ]);
    const events = await eventually(
      () => clientsFor('admin').core.listNamespacedEvent({ namespace: ns }),
      (l) => l.items.some((e) => e.reason === 'SessionOutsideGrant'),
    );
    expect(events.items.find((e) => e.reason === 'SessionOutsideGrant')?.message).toBe(
      `debug containers started that no DebugGrant let in: sneaky (${DEBUG_IMAGE}: sh -c 'cat /etc/shadow')`,
    );
    const pod = await clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'lonely-1' });
    expect(pod.metadata?.annotations?.[SESSIONS_ANNOTATION]).toBe('sneaky=started');

    await op.stop();
    op = await startTestOperator([ns]);
    await writePodStatus(ns, 'lonely-1', { ephemeralContainerStatuses: [kubeletState('sneaky', started, { at: second(Date.now()), exitCode: 0 })] });
    await eventually(
      () => Promise.resolve(outside()),
      (l) => l.some((a) => a.event === 'session.ended'),
    );
    expect(outside().map((a) => a.event)).toEqual(['session.ended']);
    await eventually(
      () => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'lonely-1' }),
      (p) => p.metadata?.annotations?.[SESSIONS_ANNOTATION] === 'sneaky=ended',
    );
  });

  test('a granted session is classified to its grant on the pod, and never told as outside', async () => {
    await createPod(ns, 'granted-1', { app: 'granted' });
    await createGrant(ns, 'granted', grantSpec({ podSelector: { matchLabels: { app: 'granted' } } }));
    await eventually(
      () => getGrant(ns, 'granted'),
      (g) => g?.status?.phase === 'Active' && g.status.pods?.length === 1,
    );
    await addEphemeralContainer('alice', ns, 'granted-1', debugContainer('dbg', DEBUG_IMAGE, 'restricted'));
    await writePodStatus(ns, 'granted-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('dbg', second(Date.now()))] });
    await eventually(
      () => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'granted-1' }),
      (p) => p.metadata?.annotations?.[SESSIONS_ANNOTATION] === 'dbg=grant:granted',
    );
    await eventually(
      () => getGrant(ns, 'granted'),
      (g) => g?.status?.sessionCount === 1,
    );
    expect(
      op
        .audits()
        .filter((a) => a.event === 'session.started')
        .map((a) => a.grant),
    ).toEqual([`${ns}/granted`]);
  });

  test("a break-glass session on a pod a logs-only grant covers, with that grant's image: outside any grant, as admission decided", async () => {
    await createPod(ns, 'logs-1', { app: 'logs' });
    await createGrant(ns, 'alice-logs', grantSpec({ access: ['logs'], podSelector: { matchLabels: { app: 'logs' } } }));
    await eventually(
      () => getGrant(ns, 'alice-logs'),
      (g) => g?.status?.phase === 'Active' && g.status.pods?.length === 1,
    );
    // As the admin: break-glass (system:masters). The same image as the grant's.
    await addEphemeralContainer('admin', ns, 'logs-1', debugContainer('bg', DEBUG_IMAGE, 'restricted'));
    await writePodStatus(ns, 'logs-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('bg', second(Date.now()))] });
    // The policy's own decision, from the API server's audit log: break-glass, no grant.
    const admitted = await eventually(
      () =>
        Promise.resolve(
          readAuditLog(plane().auditLog).filter(
            (e) =>
              e.objectRef?.subresource === 'ephemeralcontainers' &&
              e.objectRef.namespace === ns &&
              e.objectRef.name === 'logs-1' &&
              e.stage === 'ResponseComplete',
          ),
        ),
      (es) => es.length === 1,
    );
    expect(
      admitted.map((e) => [e.annotations?.['debuggrant-ephemeral-containers/decision'], e.annotations?.['debuggrant-ephemeral-containers/grant'] ?? '']),
    ).toEqual([['break-glass', '']]);
    // The operator agrees: told as outside any grant. Before: classified under alice-logs
    // ('bg=grant:alice-logs'), recorded in its status, and the break-glass use never told.
    await eventually(
      () => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'logs-1' }),
      (p) => p.metadata?.annotations?.[SESSIONS_ANNOTATION] === 'bg=started',
    );
    expect(
      op
        .audits()
        .filter((a) => a.event === 'session.started' && a.pods.includes('logs-1'))
        .map((a) => [a.grant, a.reason]),
    ).toEqual([['', 'OutsideAnyGrant']]);
    expect((await getGrant(ns, 'alice-logs'))?.status?.sessions).toBeUndefined();
  });

  test("a break-glass session on a pod that finishes: its end is told, though the pod leaves the operator's pod cache", async () => {
    await createPod(ns, 'finishing-1', { app: 'finishing' });
    await addEphemeralContainer('admin', ns, 'finishing-1', debugContainer('peek', DEBUG_IMAGE, 'restricted'));
    const started = second(Date.now());
    await writePodStatus(ns, 'finishing-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('peek', started)] });
    const told = () => op.audits().filter((a) => a.event.startsWith('session.') && a.pods.includes('finishing-1'));
    await eventually(
      () => Promise.resolve(told()),
      (l) => l.length === 1,
    );
    await writePodStatus(ns, 'finishing-1', {
      phase: 'Failed',
      ephemeralContainerStatuses: [kubeletState('peek', started, { at: second(Date.now()), exitCode: 137 })],
    });
    // Before: the informer reported the finished pod deleted and its session was never told ended.
    await eventually(
      () => Promise.resolve(told()),
      (l) => l.some((a) => a.event === 'session.ended'),
    );
    expect(told().map((a) => [a.event, a.reason, a.session?.exitCode])).toEqual([
      ['session.started', 'OutsideAnyGrant', undefined],
      ['session.ended', 'OutsideAnyGrant', 137],
    ]);
    await eventually(
      () => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'finishing-1' }),
      (p) => p.metadata?.annotations?.[SESSIONS_ANNOTATION] === 'peek=ended',
    );
  });
});

describe("the API server's audit log (config/audit/policy.yaml)", () => {
  let ns: string;
  let op: TestOperator;
  beforeAll(async () => {
    ns = await freshNamespace('audit');
    await createPod(ns, 'web-1', { app: 'web' });
    op = await startTestOperator([ns]);
  });
  afterAll(async () => {
    await op.stop();
  });

  test('a debug container and an exec are recorded with the user, the grant, the check that decided and the command', async () => {
    await createGrant(ns, 'web-debug', grantSpec({ access: ['debug', 'exec'], podSelector: { matchLabels: { app: 'web' } } }));
    await eventually(
      () => getGrant(ns, 'web-debug'),
      (g) => g?.status?.phase === 'Active' && g.status.pods?.length === 1,
    );
    await addEphemeralContainer('alice', ns, 'web-1', debugContainer('dbg', DEBUG_IMAGE, 'restricted', { command: ['sh', '-c', 'ss -tnp'] }));
    // bob has RBAC to add debug containers but no grant: admission refuses, and the log says by which check.
    await standingDebugRbac(ns, subjects('bob'));
    await expect(addEphemeralContainer('bob', ns, 'web-1', debugContainer('bobs', DEBUG_IMAGE, 'restricted'))).rejects.toThrow();
    // No kubelet here: the exec is authorized and admitted, then fails to reach a node; the request is logged all the same.
    await kubectl('alice', ['exec', '-n', ns, 'web-1', '-c', 'app', '--', 'cat', '/etc/hostname']);
    // bob execs through standing RBAC, no grant: the log says so.
    await bindRole(ns, 'legacy-exec', [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['get', 'create'] }], subjects('bob'));
    await kubectl('bob', ['exec', '-n', ns, 'web-1', '-c', 'app', '--', 'id']);
    const events = await eventually(
      () => Promise.resolve(readAuditLog(plane().auditLog)),
      (es) =>
        es.some((e) => e.objectRef?.subresource === 'exec' && e.objectRef.namespace === ns && e.user.username === 'bob') &&
        es.filter((e) => e.objectRef?.subresource === 'ephemeralcontainers' && e.objectRef.namespace === ns).length >= 2,
    );
    const debug = events.filter((e) => e.objectRef?.subresource === 'ephemeralcontainers' && e.objectRef.namespace === ns);
    expect(
      debug.map((e) => [
        e.user.username,
        e.responseStatus?.code,
        e.annotations?.['debuggrant-ephemeral-containers/decision'],
        e.annotations?.['debuggrant-ephemeral-containers/grant'] ?? '',
      ]),
    ).toEqual([
      ['alice', 200, 'grant', `${ns}/web-debug`],
      ['bob', 403, 'no-grant', ''],
    ]);
    expect(debug[0]?.annotations?.['debuggrant-ephemeral-containers/subject']).toBe('alice');
    expect(debug[1]?.annotations?.['validation.policy.admission.k8s.io/validation_failure']).toContain('no active DebugGrant lets bob');
    // Level Request: the body names the container and its command.
    expect(JSON.stringify(debug[0]?.requestObject)).toContain('ss -tnp');
    const exec = events.find((e) => e.objectRef?.subresource === 'exec' && e.objectRef.namespace === ns);
    expect(exec?.user.username).toBe('alice');
    // config/admission/stream-audit.yaml: the grant that covers the stream, or none (standing access).
    const streams = events.filter((e) => e.objectRef?.subresource === 'exec' && e.objectRef.namespace === ns && e.stage === 'ResponseComplete');
    expect([
      ...new Set(
        streams.map((e) =>
          [e.user.username, e.annotations?.['debuggrant-stream-audit/decision'], e.annotations?.['debuggrant-stream-audit/grant'] ?? ''].join(' '),
        ),
      ),
    ]).toEqual([`alice grant ${ns}/web-debug`, 'bob no-grant ']);
    expect(exec?.requestURI).toContain('command=cat&command=%2Fetc%2Fhostname');
  });
});
