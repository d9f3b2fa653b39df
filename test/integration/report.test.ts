// `kubectl debuggrant report` against the real API server and its real audit log: a grant with
// a debug session (added by the subject through admission, started and ended as a kubelet
// reports it), an exec and a port-forward, revoked by an approver; then the same grant after
// its object was deleted, from the operator's index record and the audit log alone.
import type { AccessReport } from '../../src/cli/report.ts';
import { clientsFor, createPod, eventually, freshNamespace, kubectl, plane, readAuditLog, writePodStatus } from '../support/cluster.ts';
import { cli } from '../support/cli.ts';
import { addEphemeralContainer, debugContainer, kubeletState, second } from '../support/debug-containers.ts';
import { createGrant, deleteGrant, getGrant, grantSpec } from '../support/grants.ts';
import { DEBUG_IMAGE, startTestOperator, type TestOperator } from '../support/operator.ts';

const iso = (d: Date): string => d.toISOString().replace('.000', '');

describe('kubectl debuggrant report', () => {
  let ns: string;
  let op: TestOperator;
  let started: Date;
  let finished: Date;
  beforeAll(async () => {
    ns = await freshNamespace('report');
    await createPod(ns, 'web-1', { app: 'web' });
    op = await startTestOperator([ns]);
    await createGrant(
      ns,
      'inc-7',
      grantSpec({
        access: ['debug', 'exec', 'portForward'],
        podSelector: { matchLabels: { app: 'web' } },
        reason: 'INC-7 web 500s, need a shell',
        approval: { ref: 'https://git.example.com/ops/pull/7' },
      }),
    );
    await eventually(
      () => getGrant(ns, 'inc-7'),
      (g) => g?.status?.phase === 'Active' && g.status.pods?.length === 1,
    );
    await addEphemeralContainer(
      'alice',
      ns,
      'web-1',
      debugContainer('dbg-1', DEBUG_IMAGE, 'restricted', { command: ['sh', '-c', 'netstat -tn'], targetContainerName: 'app' }),
    );
    started = second(Date.now());
    await writePodStatus(ns, 'web-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('dbg-1', started)] });
    // No kubelet here: both streams are authorized and logged, then fail to reach a node.
    await kubectl('alice', ['exec', '-n', ns, 'web-1', '-c', 'app', '--', 'cat', '/etc/resolv.conf']);
    await kubectl('alice', ['port-forward', '-n', ns, 'pod/web-1', '18080:8080', '--pod-running-timeout=2s']);
    finished = second(Date.now() + 1000);
    await writePodStatus(ns, 'web-1', { ephemeralContainerStatuses: [kubeletState('dbg-1', started, { at: finished, exitCode: 0 })] });
    await eventually(
      () => getGrant(ns, 'inc-7'),
      (g) => g?.status?.sessions?.[0]?.finishedAt !== undefined,
    );
    expect((await cli('carol', ['revoke', 'inc-7', '-n', ns, '--reason', 'INC-7 resolved'])).code).toBe(0);
    await eventually(
      () => getGrant(ns, 'inc-7'),
      (g) => g?.status?.conditions?.some((c) => c.type === 'RevocationVerified' && c.status === 'True') === true,
    );
    // After the end: alice's next debug container is refused by RBAC.
    await expect(addEphemeralContainer('alice', ns, 'web-1', debugContainer('dbg-late', DEBUG_IMAGE, 'restricted'))).rejects.toThrow();
    // Every request above is in the audit log before the report reads it.
    await eventually(
      () => Promise.resolve(readAuditLog(plane().auditLog)),
      (es) => es.some((e) => e.objectRef?.namespace === ns && e.objectRef.name === 'web-1' && e.responseStatus?.code === 403),
    );
  }, 60_000);
  afterAll(async () => {
    await op.stop();
  });

  const report = async (args: string[] = []): Promise<AccessReport> => {
    const out = await cli('admin', ['report', 'inc-7', '-n', ns, '-o', 'json', ...args]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    return JSON.parse(out.stdout) as AccessReport;
  };

  test('names who asked, why, who approved, when and how it ended, the session, the exec and the port-forward', async () => {
    const r = await report(['--audit-log', plane().auditLog]);
    expect(r).toMatchObject({
      grant: `${ns}/inc-7`,
      subject: 'User alice',
      reason: 'INC-7 web 500s, need a shell',
      approval: 'https://git.example.com/ops/pull/7',
      created: { by: 'gitops' },
      phase: 'Revoked',
      end: { how: 'revoked on request', by: 'carol', detail: 'revoked by carol: INC-7 resolved' },
      revocationVerified: { ok: true },
      pods: ['web-1'],
      sessionCount: 1,
    });
    expect(r.debugContainers).toEqual([
      expect.objectContaining({
        pod: 'web-1',
        container: 'dbg-1',
        command: "sh -c 'netstat -tn'",
        target: 'app',
        profile: 'restricted',
        startedAt: iso(started),
        finishedAt: iso(finished),
        exitCode: 0,
        endedByDeadline: true,
        durationSeconds: (finished.getTime() - started.getTime()) / 1000,
        addedBy: expect.objectContaining({ user: 'alice' }) as unknown,
      }),
    ]);
    const g = await getGrant(ns, 'inc-7');
    expect(r.debugContainers[0]?.addedBy?.at.localeCompare(g?.status?.activatedAt ?? '')).toBe(1);
    // The streams failed to reach a node (none here): each is listed with the API server's answer.
    const kinds = [...new Set([...r.streams, ...r.refused].filter((s) => s.user === 'alice' && s.kind !== 'debug').map((s) => s.kind))].sort();
    expect(kinds).toEqual(['exec', 'portforward']);
    const exec = [...r.streams, ...r.refused].find((s) => s.kind === 'exec');
    expect(exec).toMatchObject({ user: 'alice', pod: 'web-1' });
    expect(r.refused.find((x) => x.kind === 'debug')).toMatchObject({ user: 'alice', pod: 'web-1', code: 403, why: 'RBAC forbade it' });
    expect(r.unknown.join('\n')).not.toMatch(/give --audit-log/);
  });

  test('without the audit log it says what it cannot know', async () => {
    const r = await report();
    expect(r.debugContainers[0]?.addedBy).toBeUndefined();
    expect(r.streams).toEqual([]);
    expect(r.unknown).toContain(
      "exec, attach and port-forward requests, and who added each debug container, are in the API server's audit log: give --audit-log FILE...",
    );
    expect(r.unknown).toContain("who created the grant (the user) is in the API server's audit log: give --audit-log");
  });

  test('markdown by default, naming each part', async () => {
    const out = await cli('admin', ['report', 'inc-7', '-n', ns, '--audit-log', plane().auditLog]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`# Access report: DebugGrant ${ns}/inc-7`);
    expect(out.stdout).toContain('| web-1/dbg-1 | alice at ');
    expect(out.stdout).toContain('revoked on request by carol');
    expect(out.stdout).toContain('## What this report could not know');
  });

  test("a grant whose object was deleted: from the operator's index record and the audit log", async () => {
    await deleteGrant(ns, 'inc-7');
    await eventually(
      () => getGrant(ns, 'inc-7'),
      (g) => g === undefined,
    );
    const r = await report(['--audit-log', plane().auditLog]);
    expect(r.sources).toEqual(['DebugGrantIndex entry', expect.stringMatching(/^API server audit log/) as unknown]);
    expect(r).toMatchObject({
      subject: 'User alice',
      reason: 'INC-7 web 500s, need a shell',
      created: { by: 'gitops' },
      phase: 'Revoked',
      end: { how: 'revoked on request', by: 'carol' },
    });
    expect(r.activatedAt).toBeDefined();
    expect(r.debugContainers).toEqual([
      expect.objectContaining({
        pod: 'web-1',
        container: 'dbg-1',
        command: "sh -c 'netstat -tn'",
        addedBy: expect.objectContaining({ user: 'alice' }) as unknown,
      }),
    ]);
    expect(r.unknown.join('\n')).toContain('the DebugGrant object is gone');
    const without = await report();
    expect(without.phase).toBe('Revoked');
    expect(without.subject).toBeUndefined();
    expect(without.unknown.join('\n')).toContain('give --audit-log for the debug containers and streams');
  });

  test('bad input: no such grant anywhere, an unreadable audit log, two names', async () => {
    const none = JSON.parse((await cli('admin', ['report', 'never-was', '-n', ns, '-o', 'json'])).stdout) as AccessReport;
    expect(none.sources).toEqual([]);
    expect(none.unknown[0]).toContain(`no record of ${ns}/never-was`);
    const missing = await cli('admin', ['report', 'inc-7', '-n', ns, '--audit-log', '/nonexistent/audit.log']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read audit log /nonexistent/audit.log: ENOENT');
    const two = await cli('admin', ['report', 'a', 'b', '-n', ns]);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('report takes one grant NAME');
    expect((await clientsFor('admin').core.listNamespacedPod({ namespace: ns })).items).toHaveLength(1);
  });

  test("alice's session is not reported as bob's grant's, though both grants record it: the audit log names the grant admission used", async () => {
    // Its own pod (after the test above counts this namespace's pods).
    await createPod(ns, 'shared-1', { app: 'shared' });
    const web = { podSelector: { matchLabels: { app: 'shared' } } };
    await createGrant(ns, 'alice-g', grantSpec(web));
    await createGrant(ns, 'bob-g', grantSpec({ ...web, subject: { kind: 'User', name: 'bob' } }));
    for (const g of ['alice-g', 'bob-g'])
      await eventually(
        () => getGrant(ns, g),
        (x) => x?.status?.phase === 'Active' && x.status.pods?.length === 1,
      );
    await addEphemeralContainer('alice', ns, 'shared-1', debugContainer('dbg-a', DEBUG_IMAGE, 'restricted'));
    await writePodStatus(ns, 'shared-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('dbg-a', second(Date.now()))] });
    // The operator cannot tell whose it is: pod, image and time fit both grants.
    for (const g of ['alice-g', 'bob-g'])
      await eventually(
        () => getGrant(ns, g),
        (x) => x?.status?.sessions?.length === 1,
      );
    await eventually(
      () => Promise.resolve(readAuditLog(plane().auditLog)),
      (es) => es.some((e) => e.objectRef?.namespace === ns && e.objectRef.subresource === 'ephemeralcontainers' && (e.responseStatus?.code ?? 0) < 300),
    );
    const reportOf = async (g: string): Promise<AccessReport> =>
      JSON.parse((await cli('admin', ['report', g, '-n', ns, '-o', 'json', '--audit-log', plane().auditLog])).stdout) as AccessReport;
    const bobs = await reportOf('bob-g');
    expect(bobs.debugContainers).toEqual([]);
    expect(bobs.otherGrantsSessions).toEqual([
      expect.objectContaining({
        pod: 'shared-1',
        container: 'dbg-a',
        admittedUnder: `${ns}/alice-g`,
        addedBy: expect.objectContaining({ user: 'alice' }) as unknown,
      }),
    ]);
    const alices = await reportOf('alice-g');
    expect(alices.debugContainers).toEqual([
      expect.objectContaining({ pod: 'shared-1', container: 'dbg-a', addedBy: expect.objectContaining({ user: 'alice' }) as unknown }),
    ]);
    expect(alices.otherGrantsSessions).toBeUndefined();
    const markdown = (await cli('admin', ['report', 'bob-g', '-n', ns, '--audit-log', plane().auditLog])).stdout;
    expect(markdown).toContain('### Recorded by this grant, admitted under another');
    expect(markdown).toContain(`${ns}/alice-g`);
  });
});
