import { cachedPod } from '../../src/kube/cached.ts';
import type { DebugGrantStatus } from '../../src/api/types.ts';
import {
  MAX_COMMAND,
  MAX_SESSIONS,
  commandText,
  grantSessions,
  observedSessions,
  sessionAuditRecords,
  sessionFields,
  withOwed,
  type SessionUpdate,
} from '../../src/controller/sessions.ts';
import { mergeSessionsAnnotations, parseSessionsAnnotation, podSessionAuditRecords, podSessionUpdate } from '../../src/controller/pod-sessions.ts';
import { realisticPodSpec, runningStatus } from '../support/pods.ts';
import { sessionWrapper } from '../support/session-wrapper.ts';

const APP_IMAGE = `registry.example.com/shop/checkout@sha256:${'d'.repeat(64)}`;
const DEBUG_IMAGE = `registry.example.com/debug/busybox@sha256:${'a'.repeat(64)}`;
const OTHER_IMAGE = `registry.example.com/debug/netshoot@sha256:${'e'.repeat(64)}`;

interface Debugger {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  target?: string;
  /** 'waiting', running since (a time), or [started, finished, exit code] */
  state: string | [string, string, number];
}

/** A pod as the API server sends it (what the kubelet and `kubectl debug` wrote), through the operator's cache. */
function pod(name: string, debuggers: Debugger[]) {
  const raw = JSON.parse(JSON.stringify({ ...realisticPodSpec(name, { app: 'checkout' }, APP_IMAGE), status: runningStatus(3, APP_IMAGE) })) as {
    metadata: Record<string, unknown>;
    spec: Record<string, unknown>;
    status: Record<string, unknown>;
  };
  raw.metadata.namespace = 'shop';
  raw.spec.ephemeralContainers = debuggers.map((d) => ({
    name: d.name,
    image: d.image ?? DEBUG_IMAGE,
    stdin: true,
    tty: true,
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
    ...(d.command ? { command: d.command } : {}),
    ...(d.args ? { args: d.args } : {}),
    ...(d.target ? { targetContainerName: d.target } : {}),
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  }));
  raw.status.ephemeralContainerStatuses = debuggers.map((d) => ({
    name: d.name,
    image: d.image ?? DEBUG_IMAGE,
    imageID: `${DEBUG_IMAGE.split('@')[0] ?? ''}@sha256:${'a'.repeat(64)}`,
    ready: false,
    restartCount: 0,
    containerID: 'containerd://' + 'f'.repeat(64),
    state:
      d.state === 'waiting'
        ? { waiting: { reason: 'ContainerCreating' } }
        : typeof d.state === 'string'
          ? { running: { startedAt: d.state } }
          : {
              terminated: {
                exitCode: d.state[2],
                reason: d.state[2] === 0 ? 'Completed' : 'Error',
                startedAt: d.state[0],
                finishedAt: d.state[1],
                containerID: 'containerd://x',
              },
            },
  }));
  return cachedPod(raw);
}

const decision = {
  spec: { image: DEBUG_IMAGE, profile: 'restricted', access: ['debug'] },
  pods: ['checkout-1', 'checkout-2'],
  activatedAt: '2026-11-20T08:00:00.412Z',
  expiresAt: '2026-11-20T09:00:00.412Z',
};

/** The status after an update, as the reconciler writes it. */
const after = (u: SessionUpdate | undefined, before?: DebugGrantStatus): DebugGrantStatus => ({ ...before, ...sessionFields(u, before) });

describe('debug sessions recorded against the grant they came in by', () => {
  test('a session is told started once, ended once, and a reconcile that runs again tells nothing', () => {
    const running = [
      pod('checkout-1', [{ name: 'debugger-x7k2p', command: ['sh', '-c', 'tcpdump -i any port 8080'], target: 'app', state: '2026-11-20T08:10:05Z' }]),
    ];
    const first = grantSessions(decision, undefined, running);
    expect(first?.started).toEqual([
      {
        pod: 'checkout-1',
        container: 'debugger-x7k2p',
        image: DEBUG_IMAGE,
        profile: 'restricted',
        target: 'app',
        command: "sh -c 'tcpdump -i any port 8080'",
        startedAt: '2026-11-20T08:10:05Z',
      },
    ]);
    expect(first?.ended).toEqual([]);
    const s1 = after(first);
    expect(s1.sessionCount).toBe(1);
    // Again (a resync, a restart reading the status back): nothing new.
    const again = grantSessions(decision, s1, running);
    expect(again).toEqual({ sessions: s1.sessions, sessionCount: 1, started: [], ended: [] });

    const done = [
      pod('checkout-1', [
        {
          name: 'debugger-x7k2p',
          command: ['sh', '-c', 'tcpdump -i any port 8080'],
          target: 'app',
          state: ['2026-11-20T08:10:05Z', '2026-11-20T08:25:40Z', 130],
        },
      ]),
    ];
    const second = grantSessions(decision, s1, done);
    expect(second?.started).toEqual([]);
    expect(second?.ended).toEqual([
      expect.objectContaining({ container: 'debugger-x7k2p', finishedAt: '2026-11-20T08:25:40Z', exitCode: 130, endedByDeadline: true }),
    ]);
    const s2 = after(second, s1);
    expect(grantSessions(decision, s2, done)).toMatchObject({ started: [], ended: [], sessionCount: 1 });
  });

  test('started and finished between two looks: both lines at once', () => {
    const u = grantSessions(decision, undefined, [pod('checkout-2', [{ name: 'dbg', state: ['2026-11-20T08:30:00Z', '2026-11-20T08:30:02Z', 0] }])]);
    expect(u?.started.map((s) => s.container)).toEqual(['dbg']);
    expect(u?.ended.map((s) => [s.container, s.exitCode, s.endedByDeadline])).toEqual([['dbg', 0, true]]);
  });

  test("whether it ended by the deadline: the kubelet's finishedAt within 10 s of it, or not", () => {
    const at = (finished: string) =>
      grantSessions(decision, undefined, [pod('checkout-1', [{ name: 'd', state: ['2026-11-20T08:59:00Z', finished, 137] }])])?.ended[0]?.endedByDeadline;
    expect(at('2026-11-20T09:00:01Z')).toBe(true);
    expect(at('2026-11-20T09:00:10Z')).toBe(true);
    expect(at('2026-11-20T09:00:11Z')).toBe(false);
    expect(at('2026-11-20T11:00:00Z')).toBe(false);
  });

  test("not this grant's: another pod, another image, started before it was active or long after, not started yet", () => {
    const pods = [
      pod('checkout-1', [
        { name: 'earlier', state: '2026-11-20T07:59:59Z' }, // an earlier grant's, still running
        { name: 'same-second', state: '2026-11-20T08:00:00Z' }, // whole seconds: activation at 08:00:00.412 counts from 08:00:00
        { name: 'netshoot', image: OTHER_IMAGE, state: '2026-11-20T08:05:00Z' },
        { name: 'pending', state: 'waiting' },
        { name: 'just-after', state: '2026-11-20T09:00:30Z' }, // admitted before the deadline, started after it
        { name: 'much-later', state: '2026-11-20T09:05:00Z' },
      ]),
      pod('checkout-9', [{ name: 'elsewhere', state: '2026-11-20T08:05:00Z' }]),
    ];
    expect(grantSessions(decision, undefined, pods)?.started.map((s) => s.container)).toEqual(['same-second', 'just-after']);
  });

  test('a record, not a snapshot: sessions stay when their pod is gone', () => {
    const s1 = after(grantSessions(decision, undefined, [pod('checkout-1', [{ name: 'd', state: '2026-11-20T08:10:00Z' }])]));
    const u = grantSessions({ ...decision, pods: [] }, s1, []);
    expect(u).toMatchObject({ started: [], ended: [], sessionCount: 1 });
    expect(after(u, s1).sessions).toEqual(s1.sessions);
  });

  test(`bounded: the last ${String(MAX_SESSIONS)} are kept, all are counted, and the dropped ones are not told again`, () => {
    const many = Array.from({ length: MAX_SESSIONS + 5 }, (_, i) => ({
      name: `d${String(i).padStart(3, '0')}`,
      state: new Date(Date.UTC(2026, 10, 20, 8, 1, i)).toISOString().replace('.000', ''),
    }));
    const pods = [pod('checkout-1', many)];
    const first = grantSessions(decision, undefined, pods);
    expect(first?.started).toHaveLength(MAX_SESSIONS + 5);
    const s1 = after(first);
    expect(s1.sessions).toHaveLength(MAX_SESSIONS);
    expect(s1.sessions?.[0]?.container).toBe('d005');
    expect(s1.sessionCount).toBe(MAX_SESSIONS + 5);
    expect(grantSessions(decision, s1, pods)).toMatchObject({ started: [], ended: [], sessionCount: MAX_SESSIONS + 5 });
    // One more, later: told, counted, the oldest kept one drops.
    const more = [pod('checkout-1', [...many, { name: 'newest', state: '2026-11-20T08:30:00Z' }])];
    const u = grantSessions(decision, s1, more);
    expect(u?.started.map((s) => s.container)).toEqual(['newest']);
    expect(after(u, s1)).toMatchObject({ sessionCount: MAX_SESSIONS + 6 });
    expect(after(u, s1).sessions?.[0]?.container).toBe('d006');
  });

  test('a grant that never held access has no session record; one kept from before stays', () => {
    expect(
      grantSessions({ ...decision, activatedAt: undefined }, undefined, [pod('checkout-1', [{ name: 'd', state: '2026-11-20T08:10:00Z' }])]),
    ).toBeUndefined();
    expect(sessionFields(undefined, undefined)).toEqual({});
    const kept = { sessions: [{ pod: 'p', container: 'c', image: DEBUG_IMAGE, startedAt: '2026-11-20T08:10:00Z' }], sessionCount: 3 };
    expect(sessionFields(undefined, kept)).toEqual(kept);
  });

  test('commands as a shell reads them back, cut at the bound', () => {
    expect(commandText(undefined, undefined)).toBeUndefined();
    expect(commandText(['sh'], ['-c', "echo 'hi' && sleep 5"])).toBe("sh -c 'echo '\\''hi'\\'' && sleep 5'");
    expect(commandText(['timeout', '-s', 'KILL', '3540', 'sh'], undefined)).toBe('timeout -s KILL 3540 sh');
    // The deadline wrapper (config/admission/session-deadline.yaml) is not the requester's command.
    expect(commandText([...sessionWrapper(1795000000, 3540), 'sh', '-c', 'tcpdump -i any'], ['-v'])).toBe("sh -c 'tcpdump -i any' -v");
    expect(commandText(sessionWrapper(1795000000, 3540), ['top'])).toBe('top');
    const long = commandText(['sh', '-c', 'x'.repeat(2000)], undefined);
    expect(long).toHaveLength(MAX_COMMAND);
    expect(long?.endsWith('…')).toBe(true);
  });

  test("observedSessions reads the kubelet's times and exit code from the cached pod", () => {
    expect(observedSessions(pod('p', [{ name: 'a', args: ['top'], state: ['2026-11-20T08:10:00Z', '2026-11-20T08:11:00Z', 1] }]))).toEqual([
      {
        pod: 'p',
        container: 'a',
        image: DEBUG_IMAGE,
        command: 'top',
        startedAt: '2026-11-20T08:10:00Z',
        finishedAt: '2026-11-20T08:11:00Z',
        exitCode: 1,
      },
    ]);
  });

  test('a grant that gives no debug records no session: admission let none in by it (ephemeral-containers.yaml, matching)', () => {
    const running = [pod('checkout-1', [{ name: 'peek', state: '2026-11-20T08:10:05Z' }])];
    expect(grantSessions({ ...decision, spec: { ...decision.spec, access: ['logs', 'exec'] } }, undefined, running)).toBeUndefined();
    expect(grantSessions({ ...decision, spec: { ...decision.spec, access: ['exec', 'debug'] } }, undefined, running)?.started).toHaveLength(1);
  });

  test("audit lines have the fixed shape, at the kubelet's times", () => {
    const u = grantSessions(decision, undefined, [
      pod('checkout-1', [{ name: 'd', command: ['sh'], state: ['2026-11-20T08:10:00Z', '2026-11-20T10:00:00Z', 137] }]),
    ]);
    if (!u) throw new Error('no update');
    const lines = sessionAuditRecords(u, 'shop/inc-4211', 'User alice', 'debuggrant-operator');
    expect(lines.map((l) => [l.event, l.grant, l.subject, l.pods, l.by, l.at, l.reason])).toEqual([
      ['session.started', 'shop/inc-4211', 'User alice', ['checkout-1'], 'debuggrant-operator', '2026-11-20T08:10:00Z', 'Started'],
      ['session.ended', 'shop/inc-4211', 'User alice', ['checkout-1'], 'debuggrant-operator', '2026-11-20T10:00:00Z', 'OutlivedDeadline'],
    ]);
    expect(lines[1]?.session).toMatchObject({ container: 'd', command: 'sh', exitCode: 137, endedByDeadline: false });
  });
});

describe('debug sessions outside any grant, recorded against the pod', () => {
  const windows = [{ grant: 'inc-4211', ...decision, image: DEBUG_IMAGE }];

  test('classified once, told once: started, then ended; a granted one is only classified', () => {
    const running = pod('checkout-1', [
      { name: 'granted', state: '2026-11-20T08:10:00Z' },
      { name: 'sneaky', image: OTHER_IMAGE, command: ['sh'], state: '2026-11-20T08:11:00Z' },
      { name: 'not-yet', state: 'waiting' },
    ]);
    const first = podSessionUpdate(running, windows, undefined);
    expect(first.annotation).toBe('granted=grant:inc-4211,sneaky=started');
    expect(first.started.map((s) => [s.container, s.command])).toEqual([['sneaky', 'sh']]);
    expect(first.ended).toEqual([]);
    expect(podSessionUpdate(running, windows, first.annotation ?? undefined)).toEqual({ annotation: first.annotation, started: [], ended: [] });

    const done = pod('checkout-1', [
      { name: 'granted', state: ['2026-11-20T08:10:00Z', '2026-11-20T08:12:00Z', 0] },
      { name: 'sneaky', image: OTHER_IMAGE, command: ['sh'], state: ['2026-11-20T08:11:00Z', '2026-11-20T08:13:00Z', 0] },
    ]);
    const second = podSessionUpdate(done, windows, first.annotation ?? undefined);
    expect(second.annotation).toBe('granted=grant:inc-4211,sneaky=ended');
    expect(second.ended.map((s) => s.container)).toEqual(['sneaky']);
    expect(podSessionUpdate(done, windows, second.annotation ?? undefined)).toMatchObject({ started: [], ended: [] });
  });

  test('a container classified while its grant existed is not re-classified after the grant is gone', () => {
    const p = pod('checkout-1', [{ name: 'granted', state: '2026-11-20T08:10:00Z' }]);
    const seen = podSessionUpdate(p, windows, undefined).annotation ?? undefined;
    expect(podSessionUpdate(p, [], seen)).toEqual({ annotation: 'granted=grant:inc-4211', started: [], ended: [] });
    // Never seen while it existed (the operator was away): outside any grant, as far as anyone can tell.
    expect(podSessionUpdate(p, [], undefined).started.map((s) => s.container)).toEqual(['granted']);
  });

  test('the annotation reads back what it wrote, and ignores what it did not', () => {
    expect([...parseSessionsAnnotation('a=grant:g1,b=started,c=ended,d=bogus,,e')]).toEqual([
      ['a', { grant: 'g1' }],
      ['b', { told: 'started' }],
      ['c', { told: 'ended' }],
    ]);
    expect(parseSessionsAnnotation(undefined).size).toBe(0);
  });

  test("audit lines against the pod: no grant, no subject, the kubelet's times", () => {
    const u = podSessionUpdate(pod('p', [{ name: 's', image: OTHER_IMAGE, state: ['2026-11-20T08:11:00Z', '2026-11-20T08:13:00Z', 1] }]), windows, undefined);
    expect(podSessionAuditRecords(u, 'p', 'op').map((l) => [l.event, l.grant, l.subject, l.pods, l.at, l.reason, l.session?.exitCode])).toEqual([
      ['session.started', '', '', ['p'], '2026-11-20T08:11:00Z', 'OutsideAnyGrant', 1],
      ['session.ended', '', '', ['p'], '2026-11-20T08:13:00Z', 'OutsideAnyGrant', 1],
    ]);
  });
});

test("two copies of a pod's session record merge to the furthest told", () => {
  expect(mergeSessionsAnnotations('a=started,b=grant:g', 'a=ended,c=started')).toBe('a=ended,b=grant:g,c=started');
  expect(mergeSessionsAnnotations('a=ended', 'a=started')).toBe('a=ended');
  expect(mergeSessionsAnnotations(undefined, undefined)).toBeUndefined();
});

test("lines owed by a write whose answer was lost join the next look's, each session once", () => {
  const rec = (container: string) => ({ pod: 'p', container, image: DEBUG_IMAGE, startedAt: '2026-11-20T08:10:00Z' });
  const owed = { sessions: [rec('a')], sessionCount: 1, started: [rec('a')], ended: [] };
  // The write landed: the next look derives nothing new; the owed line is told.
  expect(withOwed(owed, { sessions: [rec('a')], sessionCount: 1, started: [], ended: [] })?.started).toEqual([rec('a')]);
  // It did not: the next look derives the same session again; told once.
  expect(withOwed(owed, { sessions: [rec('a'), rec('b')], sessionCount: 2, started: [rec('a'), rec('b')], ended: [] })).toEqual({
    sessions: [rec('a'), rec('b')],
    sessionCount: 2,
    started: [rec('a'), rec('b')],
    ended: [],
  });
  expect(withOwed(undefined, undefined)).toBeUndefined();
});
