// The after-action report on the real node: alice debugs (a debug container the kubelet runs
// and ends), execs and port-forwards under a grant that then expires; asked afterwards, the
// report names each with the right user, command and times, from the grant's status, the
// operator's index record and the API server's audit log. Then the grant's object is deleted
// and the report is asked again.
import type { AccessReport } from '../../src/cli/report.ts';
import { clientsFor, eventually, freshNamespace, kubectl, plane, readAuditLog } from '../support/cluster.ts';
import { cli } from '../support/cli.ts';
import { deleteGrant, getGrant } from '../support/grants.ts';
import { activeGrant, describeOnNode, kubectlSession, runningPod, testNode } from '../support/node.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const SLOW = 180_000;

describeOnNode('kubectl debuggrant report, on a real node', () => {
  let ns: string;
  let op: TestOperator;
  let expiresAt: number;
  /** Local times just before each request was sent (and the port-forward stopped). */
  const times = { debug: 0, exec: 0, portforward: 0, forwardStopped: 0 };

  beforeAll(async () => {
    ns = await freshNamespace('report-node');
    op = await startTestOperator([ns]);
    await runningPod(ns, 'web-1', { app: 'web' });
    ({ expiresAt } = await activeGrant(
      ns,
      'inc-8',
      { app: 'web' },
      {
        ttl: '30s',
        access: ['debug', 'exec', 'portForward'],
        reason: 'INC-8 web timeouts, need a shell',
        approval: { ref: 'https://git.example.com/ops/pull/8' },
      },
    ));
    const image = testNode().images.debugNonRoot.ref;
    // A debug container the kubelet runs to its end.
    times.debug = Date.now();
    const debug = await kubectl('alice', [
      'debug',
      '-n',
      ns,
      'web-1',
      `--image=${image}`,
      '--profile=restricted',
      '--container=dbg',
      '--target=app',
      '--',
      'sh',
      '-c',
      'echo hello; sleep 1',
    ]);
    expect(debug.stderr).not.toMatch(/forbidden|denied/i);
    // An exec, and a port-forward held open for a moment.
    times.exec = Date.now();
    const exec = await kubectl('alice', ['exec', '-n', ns, 'web-1', '-c', 'app', '--', 'cat', '/etc/hostname']);
    expect(exec.stdout.trim()).toBe('web-1');
    times.portforward = Date.now();
    const forward = kubectlSession('alice', ['port-forward', '-n', ns, 'pod/web-1', ':8080']);
    try {
      await forward.waitFor('Forwarding from');
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await forward.stop();
    }
    times.forwardStopped = Date.now();
    // The grant expires; the report is asked after it ended.
    await eventually(
      () => getGrant(ns, 'inc-8'),
      (g) =>
        g?.status?.phase === 'Expired' &&
        g.status.conditions?.some((c) => c.type === 'RevocationVerified' && c.status === 'True') === true &&
        g.status.sessions?.[0]?.finishedAt !== undefined,
      expiresAt + 60_000 - Date.now(),
      250,
    );
    await eventually(
      () => Promise.resolve(readAuditLog(plane().auditLog)),
      (es) => es.some((e) => e.objectRef?.namespace === ns && e.objectRef.subresource === 'portforward' && e.stage === 'ResponseComplete'),
      30_000,
      250,
    );
  }, SLOW);
  afterAll(async () => {
    await op.stop();
  });

  const report = async (): Promise<AccessReport> => {
    const out = await cli('admin', ['report', 'inc-8', '-n', ns, '--audit-log', plane().auditLog, '-o', 'json']);
    expect(out.code).toBe(0);
    return JSON.parse(out.stdout) as AccessReport;
  };

  test(
    'a grant that ended before the report was asked: the debug session, the exec and the port-forward, each with its user, command and times',
    async () => {
      const r = await report();
      expect(r).toMatchObject({
        subject: 'User alice',
        reason: 'INC-8 web timeouts, need a shell',
        approval: 'https://git.example.com/ops/pull/8',
        created: { by: 'gitops' },
        phase: 'Expired',
        end: { how: 'expired (ttl elapsed)' },
        revocationVerified: { ok: true },
        sessionCount: 1,
        standingAccess: [],
      });
      const pod = await clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'web-1' });
      const kubelet = pod.status?.ephemeralContainerStatuses?.find((s) => s.name === 'dbg')?.state?.terminated;
      expect(r.debugContainers).toEqual([
        expect.objectContaining({
          pod: 'web-1',
          container: 'dbg',
          target: 'app',
          command: "sh -c 'echo hello; sleep 1'",
          profile: 'restricted',
          startedAt: kubelet?.startedAt?.toISOString().replace('.000', ''),
          finishedAt: kubelet?.finishedAt?.toISOString().replace('.000', ''),
          exitCode: 0,
          endedByDeadline: true,
          addedBy: expect.objectContaining({ user: 'alice' }) as unknown,
        }),
      ]);
      const d = r.debugContainers[0];
      expect(Date.parse(d?.addedBy?.at ?? '')).toBeGreaterThanOrEqual(times.debug - 1000);
      expect(Date.parse(d?.startedAt ?? '')).toBeGreaterThanOrEqual(Math.floor(Date.parse(d?.addedBy?.at ?? '') / 1000) * 1000);

      const exec = r.streams.filter((s) => s.kind === 'exec');
      expect(exec).toEqual([expect.objectContaining({ user: 'alice', pod: 'web-1', container: 'app', command: 'cat /etc/hostname', via: 'grant' })]);
      expect(Date.parse(exec[0]?.startedAt ?? '')).toBeGreaterThanOrEqual(times.exec - 1000);
      expect(Date.parse(exec[0]?.endedAt ?? '')).toBeLessThan(times.portforward + 1000);
      const forward = r.streams.filter((s) => s.kind === 'portforward');
      expect(forward).toEqual([expect.objectContaining({ user: 'alice', pod: 'web-1', via: 'grant' })]);
      expect(Date.parse(forward[0]?.startedAt ?? '')).toBeGreaterThanOrEqual(times.portforward - 1000);
      // Held open about 1.5 s: the stream's end is when kubectl stopped.
      expect(forward[0]?.durationSeconds).toBeGreaterThanOrEqual(1);
      expect(Date.parse(forward[0]?.endedAt ?? '')).toBeLessThanOrEqual(times.forwardStopped + 2000);
      // Each stream's audit event names the grant (config/admission/stream-audit.yaml).
      const logged = readAuditLog(plane().auditLog).filter(
        (e) =>
          e.objectRef?.namespace === ns && e.stage === 'ResponseComplete' && (e.objectRef.subresource === 'exec' || e.objectRef.subresource === 'portforward'),
      );
      expect(
        logged.map((e) => [e.objectRef?.subresource, e.annotations?.['debuggrant-stream-audit/decision'], e.annotations?.['debuggrant-stream-audit/grant']]),
      ).toEqual([
        ['exec', 'grant', `${ns}/inc-8`],
        ['portforward', 'grant', `${ns}/inc-8`],
      ]);
      expect(r.refused).toEqual([]);
      expect(r.unknown).toEqual([]);
      process.stderr.write(`[report] ${JSON.stringify({ debug: d, exec: exec[0], forward: forward[0] })}\n`);
    },
    SLOW,
  );

  test(
    'the same grant after its object was deleted: from the index record and the audit log',
    async () => {
      await deleteGrant(ns, 'inc-8');
      await eventually(
        () => getGrant(ns, 'inc-8'),
        (g) => g === undefined,
        30_000,
      );
      const r = await report();
      expect(r).toMatchObject({ subject: 'User alice', phase: 'Expired', created: { by: 'gitops' }, end: { how: 'expired (ttl elapsed)' } });
      expect(r.debugContainers).toEqual([
        expect.objectContaining({
          pod: 'web-1',
          container: 'dbg',
          command: "sh -c 'echo hello; sleep 1'",
          addedBy: expect.objectContaining({ user: 'alice' }) as unknown,
        }),
      ]);
      expect(r.streams.map((s) => [s.kind, s.user, s.command ?? ''])).toEqual([
        ['exec', 'alice', 'cat /etc/hostname'],
        ['portforward', 'alice', ''],
      ]);
      expect(r.unknown.join('\n')).toContain('the DebugGrant object is gone');
    },
    SLOW,
  );
});
