// The access report built from real inputs: test/fixtures/report/ holds a grant, its
// namespace's DebugGrantIndex and the API server's audit log as the local control plane wrote
// them during test/integration/report.test.ts (namespace renamed to shop): a debug container
// added by alice, an exec and a port-forward (no node there: each fails with 400 after
// authorization), a revocation by carol, a refused debug container after it, the deletion.
import { readFileSync } from 'node:fs';
import { contentOf, type DebugGrantIndex } from '../../src/api/grant-index.ts';
import type { DebugGrant } from '../../src/api/types.ts';
import { parseAuditLog, type AuditEvent } from '../../src/cli/audit-log.ts';
import { buildReport, type ReportInput } from '../../src/cli/report.ts';
import { reportMarkdown } from '../../src/cli/report-markdown.ts';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/report/${name}`, import.meta.url), 'utf8');
const GRANT = JSON.parse(fixture('grant.json')) as DebugGrant;
const INDEX = contentOf(JSON.parse(fixture('index.json')) as DebugGrantIndex);
const LOG = parseAuditLog(fixture('audit.log'));
const NOW = new Date('2026-12-06T00:00:00Z');

const input = (over: Partial<ReportInput> = {}): ReportInput => ({
  namespace: 'shop',
  name: 'inc-7',
  grant: GRANT,
  index: INDEX,
  auditLog: { files: ['audit.log'], ...LOG },
  now: NOW,
  ...over,
});
/** The fixture's events, one of them changed as another cluster would have logged it. */
const withEvent = (pick: (e: AuditEvent) => boolean, change: (e: AuditEvent) => AuditEvent): ReportInput['auditLog'] => ({
  files: ['audit.log'],
  skipped: 0,
  events: LOG.events.map((e) => (pick(e) ? change(structuredClone(e)) : e)),
});

describe('the access report', () => {
  test('the fixture is what the API server wrote: every line an audit event', () => {
    expect(LOG.skipped).toBe(0);
    expect(LOG.events.length).toBeGreaterThan(20);
  });

  test('who asked, why, who approved, when, how it ended, and verified', () => {
    const r = buildReport(input());
    expect(r).toMatchObject({
      grant: 'shop/inc-7',
      uid: GRANT.metadata.uid,
      subject: 'User alice',
      reason: 'INC-7 web 500s, need a shell',
      approval: 'https://git.example.com/ops/pull/7',
      access: ['debug', 'exec', 'portForward'],
      profile: 'restricted',
      pods: ['web-1'],
      created: { by: 'gitops', at: GRANT.metadata.creationTimestamp },
      phase: 'Revoked',
      activatedAt: GRANT.status?.activatedAt,
      expiresAt: GRANT.status?.expiresAt,
      end: { how: 'revoked on request', by: 'carol', at: GRANT.status?.endedAt, detail: 'revoked by carol: INC-7 resolved' },
      revocationVerified: { ok: true, message: 'SubjectAccessReview denies User alice every access this grant gave' },
      standingAccess: [],
      lingering: [],
      sessionCount: 1,
    });
    expect(r.sources).toEqual(['DebugGrant object', 'DebugGrantIndex entry', 'API server audit log (19 requests)']);
  });

  test("the session: the kubelet's times and exit code from the status, who added it from the audit log", () => {
    const [d, ...more] = buildReport(input()).debugContainers;
    expect(more).toEqual([]);
    const s = GRANT.status?.sessions?.[0];
    expect(d).toEqual({
      ...s,
      durationSeconds: (Date.parse(s?.finishedAt ?? '') - Date.parse(s?.startedAt ?? '')) / 1000,
      addedBy: {
        user: 'alice',
        at: LOG.events.find((e) => e.objectRef?.subresource === 'ephemeralcontainers' && e.responseStatus?.code === 200)?.requestReceivedTimestamp,
      },
    });
    expect(d?.command).toBe("sh -c 'netstat -tn'");
  });

  test("exec and port-forward through the grant's RoleBinding, each request once (its start and end events joined)", () => {
    const r = buildReport(input());
    // No node in the fixture's cluster: authorized, then 400 "does not have a host assigned".
    expect(r.streams).toEqual([]);
    expect(r.refused.map((x) => [x.kind, x.user, x.pod, x.code, x.why])).toEqual([
      ['exec', 'alice', 'web-1', 400, 'pod web-1 does not have a host assigned'],
      ['exec', 'alice', 'web-1', 400, 'pod web-1 does not have a host assigned'],
      ['portforward', 'alice', 'web-1', 400, 'pod web-1 does not have a host assigned'],
      ['portforward', 'alice', 'web-1', 400, 'pod web-1 does not have a host assigned'],
      ['debug', 'alice', 'web-1', 403, 'RBAC forbade it'],
    ]);
  });

  test('a stream that opened: its command, container, end and duration; via the grant', () => {
    const opened = withEvent(
      (e) => e.objectRef?.subresource === 'exec' && e.verb === 'get',
      (e) => ({
        ...e,
        responseStatus: { code: 101 },
        stageTimestamp: e.stage === 'ResponseComplete' ? '2026-12-05T00:52:40.5Z' : e.stageTimestamp,
      }),
    );
    const r = buildReport(input({ auditLog: opened }));
    expect(r.streams).toEqual([
      {
        kind: 'exec',
        user: 'alice',
        pod: 'web-1',
        container: 'app',
        command: 'cat /etc/resolv.conf',
        startedAt: expect.stringMatching(/^2026-12-05T00:5/) as unknown,
        endedAt: '2026-12-05T00:52:40.5Z',
        durationSeconds: expect.any(Number) as unknown,
        code: 101,
        via: 'grant',
      },
    ]);
  });

  test("an exec by the subject on the grant's pods through other RBAC is standing access, and says so", () => {
    const other = withEvent(
      (e) => e.objectRef?.subresource === 'exec' && e.verb === 'get',
      (e) => ({
        ...e,
        responseStatus: { code: 101 },
        annotations: {
          'authorization.k8s.io/decision': 'allow',
          'authorization.k8s.io/reason': 'RBAC: allowed by ClusterRoleBinding "oncall-exec" of ClusterRole "edit" to User "alice"',
        },
      }),
    );
    const r = buildReport(input({ auditLog: other }));
    expect(r.streams.map((s) => [s.kind, s.via])).toEqual([['exec', 'other-rbac']]);
    expect(r.standingAccess).toEqual([expect.stringContaining('alice used exec on web-1 at ') as unknown]);
    expect(r.standingAccess[0]).toContain('ClusterRoleBinding "oncall-exec"');
  });

  test("a stream the stream-audit policy names the grant on is the grant's, whoever and whenever", () => {
    const attach = structuredClone(LOG.events.find((e) => e.objectRef?.subresource === 'exec' && e.stage === 'ResponseComplete'));
    if (!attach?.objectRef) throw new Error('no exec in the fixture');
    Object.assign(attach, {
      auditID: 'attach-1',
      requestURI: '/api/v1/namespaces/shop/pods/web-1/attach?container=dbg-1&stdin=true&stdout=true&tty=true',
      user: { username: 'oncall-bot', groups: ['system:authenticated'] },
      responseStatus: { code: 101 },
      requestReceivedTimestamp: '2026-12-06T09:00:00Z',
      annotations: {
        'authorization.k8s.io/decision': 'allow',
        'authorization.k8s.io/reason': 'RBAC: allowed by ClusterRoleBinding "bots"',
        'debuggrant-stream-audit/grant': 'shop/inc-7',
        'debuggrant-stream-audit/decision': 'grant',
      },
    });
    attach.objectRef.subresource = 'attach';
    const r = buildReport(input({ auditLog: { files: ['audit.log'], skipped: 0, events: [...LOG.events, attach] } }));
    expect(r.streams).toEqual([expect.objectContaining({ kind: 'attach', user: 'oncall-bot', container: 'dbg-1', via: 'other-rbac' })]);
  });

  test("a Group subject: the members' requests are matched by the groups the audit log records, and the report says so", () => {
    const forGroup = structuredClone(GRANT);
    forGroup.spec = { ...(forGroup.spec as Record<string, unknown>), subject: { kind: 'Group', name: 'oncall' } };
    const member = withEvent(
      (e) => e.objectRef?.subresource === 'exec' && e.verb === 'get',
      (e) => ({
        ...e,
        user: { username: 'dave', groups: ['oncall', 'system:authenticated'] },
        responseStatus: { code: 101 },
        annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed by RoleBinding "team-exec/shop"' },
      }),
    );
    const r = buildReport(input({ grant: forGroup, auditLog: member }));
    expect(r.subject).toBe('Group oncall');
    expect(r.streams.map((x) => [x.kind, x.user, x.via])).toEqual([['exec', 'dave', 'other-rbac']]);
    expect(r.unknown).toContain('the subject is a group: requests are matched by the group membership the audit log records (user.groups includes oncall)');
  });

  test('a grant whose object is gone: from the index entry and the audit log, saying what went with it', () => {
    const r = buildReport(input({ grant: undefined }));
    expect(r.sources).toEqual(['DebugGrantIndex entry', 'API server audit log (19 requests)']);
    expect(r).toMatchObject({
      subject: 'User alice',
      reason: 'INC-7 web 500s, need a shell',
      approval: 'https://git.example.com/ops/pull/7',
      created: { by: 'gitops' },
      phase: 'Revoked',
      activatedAt: INDEX.ended[0]?.activatedAt,
      endedAt: INDEX.ended[0]?.endedAt,
      end: { how: 'revoked on request', by: 'carol' },
    });
    expect(r.debugContainers).toEqual([
      expect.objectContaining({
        pod: 'web-1',
        container: 'dbg-1',
        command: "sh -c 'netstat -tn'",
        target: 'app',
        addedBy: expect.objectContaining({ user: 'alice' }) as unknown,
      }),
    ]);
    expect(r.debugContainers[0]?.startedAt).toBeUndefined();
    expect(r.unknown).toEqual(
      expect.arrayContaining([
        "the DebugGrant object is gone: the sessions its status recorded are gone with it; debug containers below come from the audit log (who added them and when, not the kubelet's start, finish or exit code)",
        'whether access was verified gone after the end (the RevocationVerified condition was on the deleted object)',
      ]),
    );
  });

  test('gone, and no audit log: what the index keeps, and plainly what it cannot know', () => {
    const r = buildReport(input({ grant: undefined, auditLog: undefined }));
    expect(r).toMatchObject({ phase: 'Revoked', uid: INDEX.ended[0]?.uid, activatedAt: INDEX.ended[0]?.activatedAt, debugContainers: [], streams: [] });
    expect(r.subject).toBeUndefined();
    expect(r.unknown).toEqual(
      expect.arrayContaining([
        'the DebugGrant object is gone: the sessions its status recorded are gone with it; give --audit-log for the debug containers and streams',
        "who created the grant (the user) is in the API server's audit log: give --audit-log",
        "exec, attach and port-forward requests, and who added each debug container, are in the API server's audit log: give --audit-log FILE...",
      ]),
    );
  });

  test('no record at all', () => {
    const r = buildReport(input({ name: 'never-was', grant: undefined }));
    expect(r.sources).toEqual(['API server audit log (19 requests)']);
    expect(r.unknown[0]).toBe("no record of shop/never-was: no DebugGrant object, no entry in the namespace's DebugGrantIndex, no create in the audit log");
  });

  test('an audit log that starts after access began, or ends before it ended, says so', () => {
    const late = LOG.events.filter((e) => e.requestReceivedTimestamp > (GRANT.status?.endedAt ?? ''));
    const r = buildReport(input({ auditLog: { files: ['rotated.log'], events: late, skipped: 2 } }));
    expect(r.unknown).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^the audit log given starts at .*, after access began \(.*\): requests before that are not in it$/) as unknown,
        '2 lines of the audit log were not audit events and were skipped',
      ]),
    );
    const early = LOG.events.filter((e) => e.requestReceivedTimestamp < (GRANT.status?.sessions?.[0]?.startedAt ?? ''));
    expect(buildReport(input({ auditLog: { files: ['a.log'], events: early, skipped: 0 } })).unknown).toEqual(
      expect.arrayContaining([expect.stringMatching(/^the audit log given ends at .*, before access ended/) as unknown]),
    );
  });

  test('sessions the status bound dropped are counted, and the report says where they are', () => {
    const many = structuredClone(GRANT);
    if (many.status) many.status.sessionCount = 57;
    expect(buildReport(input({ grant: many })).unknown).toContain(
      "56 older sessions are no longer in the status (it keeps the last 50): the operator's session.started audit lines have them",
    );
  });

  test('markdown names each part', () => {
    const md = reportMarkdown(buildReport(input()));
    expect(md).toContain('# Access report: DebugGrant shop/inc-7');
    expect(md).toContain('| Approval | https://git.example.com/ops/pull/7 |');
    expect(md).toContain('| How | revoked on request by carol |');
    expect(md).toMatch(/\| web-1\/dbg-1 \| alice at .* \| `sh -c 'netstat -tn'` \| app \|/);
    expect(md).toContain('## Refused or failed (5)');
    expect(md).toContain('## What this report could not know');
  });

  test('audit log lines that are not audit events are counted, never guessed at', () => {
    const parsed = parseAuditLog(`${fixture('audit.log').split('\n')[0] ?? ''}\nnot json\n{"kind":"Event"}\n{"level":"info","msg":"x"}\n\n`);
    expect(parsed.events).toHaveLength(1);
    expect(parsed.skipped).toBe(3);
  });
});
