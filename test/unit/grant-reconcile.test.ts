// The grant reconcile and the revocation path as functions: a recording client, a fake clock,
// and the actions each sends, in order (sample-controller's controller_test.go, cert-manager's
// ExpectedActions). The integration tests then check that the real API server agrees.
import { rbacName } from '../../src/api/names.ts';
import type { DebugGrant } from '../../src/api/types.ts';
import { parseConfig } from '../../src/config.ts';
import { EventSender } from '../../src/controller/event-sender.ts';
import { GrantController } from '../../src/controller/grant-controller.ts';
import { buildGrantParts } from '../../src/controller/grant-parts.ts';
import { eventRecorder } from '../../src/kube/events.ts';
import { NO_ACTIVE_ENTRY } from '../../src/kube/rbac.ts';
import { makeLogger } from '../../src/log.ts';
import { makeMetrics } from '../../src/metrics.ts';
import { DeadlineTimer } from '../../src/revocation/deadline-timer.ts';
import { deletesFirst } from '../../src/revocation/lanes.ts';
import { NO_CONTROLLER_AFTER_MS } from '../../src/revocation/timer-job.ts';
import { startupWork } from '../../src/revocation/startup-sweep.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { RecordingApi, refused } from '../support/recording-api.ts';

const image = `registry.example.com/debug/netshoot@sha256:${'a'.repeat(64)}`;
const config = parseConfig({ approvedRegistries: ['registry.example.com/debug/'], namespaces: ['shop'], maxTtl: '4h', revocationSettle: '2s' });
const KEY = 'shop/g';
const RBAC = rbacName('g');
const HOUR = 3_600_000;
/** What a grant's lifecycle writes, without reviews and Events. */
const WRITES = ['debuggrants', 'debuggrants/status', 'debuggrantindexes', 'debuggranthistories', 'roles', 'rolebindings', 'jobs'];
/** The second copy of the namespace's spent names, in the operator's own namespace. */
const HISTORY = 'debuggranthistories debuggrant-system/shop';
const TIMER = 'debuggrant-timer-g';

function grant(extra: Partial<DebugGrant['metadata']> = {}): DebugGrant {
  return {
    apiVersion: 'debuggrant.dev/v1alpha1',
    kind: 'DebugGrant',
    metadata: { name: 'g', namespace: 'shop', uid: 'u1', generation: 1, creationTimestamp: '2026-11-23T09:59:59Z', ...extra },
    spec: {
      subject: { kind: 'User', name: 'alice' },
      podSelector: { matchLabels: { app: 'web' } },
      image,
      ttl: '1h',
      reason: 'INC-1 web is slow',
      access: ['exec'],
    },
  } as DebugGrant;
}

function harness(log = makeLogger('silent')) {
  const rec = new RecordingApi();
  const clock = new FakeClock();
  const metrics = makeMetrics(
    () => ({}),
    () => 0,
    false,
  );
  const lanes = deletesFirst(rec.api, clock);
  const events = new EventSender(
    eventRecorder(lanes.api, 'test', () => new Date(clock.now())),
    log,
  );
  const parts = buildGrantParts({ lanes, caches: rec.caches, config, clock, log, metrics, events, identity: 'test' });
  rec.seed('pods', { metadata: { name: 'web-1', namespace: 'shop', labels: { app: 'web' } } });
  rec.seed('debuggrants', grant());
  return { rec, clock, log, events, ...parts };
}

/** A deadline timer over the harness's fast path, and a way to wait for its next attempt. */
function timerOf(h: ReturnType<typeof harness>) {
  const timer = new DeadlineTimer({ clock: h.clock, log: h.log, revoke: (key) => h.fastPath.revoke(key) });
  let attempted: () => void = () => undefined;
  timer.onAttempted(() => {
    attempted();
  });
  const nextAttempt = () =>
    new Promise<void>((resolve) => {
      attempted = resolve;
    });
  return { timer, nextAttempt };
}

/** Lets every request that can go out go out, and every answer given arrive (a bounded number of event-loop turns). */
async function turns(): Promise<void> {
  for (let turn = 0; turn < 50; turn++)
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
}

/** Waits (a bounded number of turns) until something armed a timer on the fake clock. */
async function timerArmed(clock: FakeClock): Promise<void> {
  for (let turn = 0; clock.pendingTimers === 0; turn++) {
    if (turn > 1000) throw new Error('no timer was armed on the clock');
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
  }
}

async function activate(h: ReturnType<typeof harness>) {
  h.rec.allowed = () => true;
  const result = await h.reconciler.reconcile(KEY);
  await h.events.idle();
  return result;
}

describe('grant reconcile: expected actions', () => {
  test('activation: finalizer, then the index entry, then the timer Job, the Role, the RoleBinding, then status; the deadline returned', async () => {
    const h = harness();
    const result = await activate(h);
    expect(result.error).toBeUndefined();
    expect(result.deadline).toBe(h.clock.now() + HOUR);
    expect(result.requeueAfter).toBeUndefined();
    expect(h.rec.only(...WRITES)).toEqual([
      'patch debuggrants shop/g',
      'create debuggrantindexes shop/grants',
      `create jobs shop/${TIMER}`,
      `patch roles shop/${RBAC}`,
      `patch rolebindings shop/${RBAC}`,
      'patch debuggrants/status shop/g',
    ]);
    // Verified by asking the authorizer after the RBAC was written, before the status says Ready.
    const reviews = h.rec.actions.flatMap((a, i) => (a.includes('subjectaccessreviews') ? [i] : []));
    expect(reviews.length).toBeGreaterThan(0);
    expect(Math.min(...reviews)).toBeGreaterThan(h.rec.actions.indexOf(`patch rolebindings shop/${RBAC}`));
    expect(Math.max(...reviews)).toBeLessThan(h.rec.actions.indexOf('patch debuggrants/status shop/g'));
    expect(h.rec.actions).toContain('create events shop/');
  });

  test('activation: what grants nothing goes out together (finalizer with index entry, timer Job with Role); the RoleBinding waits for both answers', async () => {
    const h = harness();
    h.rec.allowed = () => true;
    const answers = new Map<string, () => void>();
    const held = ['patch debuggrants shop/g', `create jobs shop/${TIMER}`, `patch roles shop/${RBAC}`];
    h.rec.hold = (action) => (held.includes(action) ? new Promise<void>((resolve) => answers.set(action, resolve)) : undefined);
    const answer = async (action: string) => {
      answers.get(action)?.();
      await turns();
    };
    const running = h.reconciler.reconcile(KEY);
    await turns();
    // The finalizer unanswered: the index entry is already on its way, nothing of RBAC is.
    expect(h.rec.only(...WRITES)).toEqual(['patch debuggrants shop/g', 'create debuggrantindexes shop/grants']);
    await answer('patch debuggrants shop/g');
    // Both answered: the timer and the Role together, the RoleBinding not yet.
    expect(h.rec.only(...WRITES).slice(2)).toEqual([`create jobs shop/${TIMER}`, `patch roles shop/${RBAC}`]);
    await answer(`create jobs shop/${TIMER}`);
    expect(h.rec.only('rolebindings')).toEqual([]);
    await answer(`patch roles shop/${RBAC}`);
    const result = await running;
    expect(result.error).toBeUndefined();
    expect(h.rec.only(...WRITES).slice(4)).toEqual([`patch rolebindings shop/${RBAC}`, 'patch debuggrants/status shop/g']);
    // The RoleBinding's one owner is the timer that was created first.
    expect(h.rec.caches.bindings.get(RBAC, 'shop')?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Job', name: TIMER });
  });

  test('activation: a refused index entry stops it before any RBAC, even with the finalizer written beside it', async () => {
    const h = harness();
    h.rec.fault = (a) => (a.includes('debuggrantindexes') ? refused(422, 'index refused') : undefined);
    const result = await h.reconciler.reconcile(KEY);
    expect(result.error?.message).toMatch(/debuggrantindexes shop\/grants failed/);
    expect(h.rec.only(...WRITES).filter((a) => !a.startsWith('patch debuggrants'))).toEqual(['create debuggrantindexes shop/grants']);
    expect(h.rec.only('roles', 'rolebindings', 'jobs')).toEqual([]);
  });

  test("a namespace's grants activated together share index writes: those waiting while one is on the wire go in the next, each RBAC after its own entry", async () => {
    const h = harness();
    h.rec.allowed = () => true;
    const names = ['g', 'g2', 'g3'];
    for (const name of names.slice(1)) h.rec.seed('debuggrants', { ...grant(), metadata: { ...grant().metadata, name, uid: `u-${name}` } });
    let answerFirst: () => void = () => undefined;
    h.rec.hold = (action) =>
      action === 'create debuggrantindexes shop/grants'
        ? new Promise<void>((resolve) => {
            answerFirst = resolve;
          })
        : undefined;
    const running = Promise.all(names.map((name) => h.reconciler.reconcile(`shop/${name}`)));
    await turns();
    answerFirst();
    const results = await running;
    expect(results.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
    // The first entry alone, then both that waited for it in one write: two writes, not three.
    expect(h.rec.only('debuggrantindexes')).toEqual(['create debuggrantindexes shop/grants', 'replace debuggrantindexes shop/grants']);
    const entries = h.rec.caches.indexes.get('grants', 'shop')?.active?.map((e) => e.grant);
    expect(entries).toEqual(names);
    // Index entry before RBAC, for each grant: its RoleBinding only after the write that held its entry.
    const at = (a: string) => h.rec.actions.indexOf(a);
    expect(at(`patch rolebindings shop/${RBAC}`)).toBeGreaterThan(at('create debuggrantindexes shop/grants'));
    for (const name of names.slice(1)) {
      expect(at(`patch roles shop/${rbacName(name)}`)).toBeGreaterThan(at('replace debuggrantindexes shop/grants'));
      expect(at(`patch rolebindings shop/${rbacName(name)}`)).toBeGreaterThan(at('replace debuggrantindexes shop/grants'));
    }
  });

  test('a failed shared index write fails every grant it held, none of them gets RBAC, and each is written again on its retry', async () => {
    const h = harness();
    for (const name of ['g2']) h.rec.seed('debuggrants', { ...grant(), metadata: { ...grant().metadata, name, uid: `u-${name}` } });
    h.rec.seed('debuggrantindexes', { metadata: { name: 'grants', namespace: 'shop' }, active: [], ended: [] });
    let refuse = true;
    h.rec.fault = (a) => (a.startsWith('replace debuggrantindexes') && refuse ? refused(500, 'etcd timeout') : undefined);
    const failed = await Promise.all(['g', 'g2'].map((name) => h.reconciler.reconcile(`shop/${name}`)));
    expect(failed.map((r) => r.error?.message)).toEqual([expect.stringMatching(/failed/), expect.stringMatching(/failed/)]);
    expect(h.rec.only('roles', 'rolebindings', 'jobs')).toEqual([]);
    refuse = false;
    h.rec.allowed = () => true;
    const retried = await Promise.all(['g', 'g2'].map((name) => h.reconciler.reconcile(`shop/${name}`)));
    expect(retried.map((r) => r.error)).toEqual([undefined, undefined]);
    expect(h.rec.caches.indexes.get('grants', 'shop')?.active?.map((e) => e.grant)).toEqual(['g', 'g2']);
  });

  test("verification's next look asks only what the authorizer did not allow yet", async () => {
    const h = harness();
    let caughtUp = false;
    // The authorizer's cache has the binding's first rule's effect at once, the rest a look later.
    h.rec.allowed = (a) => caughtUp || (a as { subresource?: string }).subresource === undefined;
    const running = h.reconciler.reconcile(KEY);
    await timerArmed(h.clock);
    caughtUp = true;
    h.clock.advance(20);
    const result = await running;
    expect(result.error).toBeUndefined();
    expect(h.rec.only('subjectaccessreviews')).toEqual([
      'create subjectaccessreviews shop/get pods web-1',
      'create subjectaccessreviews shop/create exec web-1',
      'create subjectaccessreviews shop/get exec web-1',
      'create subjectaccessreviews shop/create exec web-1',
      'create subjectaccessreviews shop/get exec web-1',
    ]);
    expect(h.rec.caches.grants.get('g', 'shop')?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  test('level-triggered: a second reconcile of the same state sends nothing', async () => {
    const h = harness();
    await activate(h);
    const before = h.rec.actions.length;
    const again = await h.reconciler.reconcile(KEY);
    await h.events.idle();
    expect(h.rec.actions.slice(before)).toEqual([]);
    expect(again.deadline).toBe(h.clock.now() + HOUR);
  });

  test('no Job controller starts the timer: the grant says so once, and later reconciles of that state send nothing', async () => {
    const h = harness();
    h.rec.stampCreation = () => h.clock.now();
    await activate(h);
    h.clock.advance(NO_CONTROLLER_AFTER_MS);
    await h.reconciler.reconcile(KEY);
    expect(h.rec.caches.grants.get('g', 'shop')?.status?.conditions?.find((c) => c.type === 'SecondDeadline')?.reason).toBe('NoJobController');
    // Each status write is a watch event, hence a reconcile: one that wrote again because the clock moved never ended.
    const before = h.rec.actions.length;
    h.clock.advance(7_000);
    const again = await h.reconciler.reconcile(KEY);
    await h.events.idle();
    expect(h.rec.actions.slice(before)).toEqual([]);
    expect(again.requeueAfter).toBeUndefined();
  });

  test('a timer the Job controller starts while the RoleBinding is written: the first status says TimerArmed, and nothing is written again', async () => {
    const h = harness();
    const startTime = new Date(Math.floor(h.clock.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    h.rec.hold = (action) => {
      // The Job controller's first sync, seen by the timers' watch before the grant's status is written.
      if (action === `patch rolebindings shop/${RBAC}`) h.rec.startJob('shop', TIMER, startTime);
      return undefined;
    };
    await activate(h);
    expect(h.rec.only('debuggrants/status')).toEqual(['patch debuggrants/status shop/g']);
    const condition = h.rec.caches.grants.get('g', 'shop')?.status?.conditions?.find((c) => c.type === 'SecondDeadline');
    expect(condition).toMatchObject({ status: 'True', reason: 'TimerArmed' });
    // The timer's watch event asks for a reconcile: it finds the status as it should be.
    const before = h.rec.actions.length;
    await h.reconciler.reconcile(KEY);
    await h.events.idle();
    expect(h.rec.actions.slice(before)).toEqual([]);
  });

  test('a timer started in a later second than it was created: shortened before the first status, which says TimerArmed; nothing is written again', async () => {
    const h = harness();
    const later = new Date(Math.floor(h.clock.now() / 1000) * 1000 + 1000).toISOString().replace('.000Z', 'Z');
    h.rec.hold = (action) => {
      if (action === `patch rolebindings shop/${RBAC}`) h.rec.startJob('shop', TIMER, later);
      return undefined;
    };
    await activate(h);
    // Counted from a second later it would fire a second late: shortened first (as the next reconcile would), then reported armed.
    expect(h.rec.only('jobs', 'debuggrants/status')).toEqual([`create jobs shop/${TIMER}`, `patch jobs shop/${TIMER}`, 'patch debuggrants/status shop/g']);
    const condition = h.rec.caches.grants.get('g', 'shop')?.status?.conditions?.find((c) => c.type === 'SecondDeadline');
    expect(condition).toMatchObject({ status: 'True', reason: 'TimerArmed' });
    expect(h.rec.caches.timers.get(TIMER, 'shop')?.activeDeadlineSeconds).toBe(HOUR / 1000 - 1);
    const before = h.rec.actions.length;
    await h.reconciler.reconcile(KEY);
    await h.events.idle();
    expect(h.rec.actions.slice(before)).toEqual([]);
  });

  test('a timer that cannot be shortened yet: the first status says TimerStarting, the next reconcile shortens it and says TimerArmed', async () => {
    const h = harness();
    const later = new Date(Math.floor(h.clock.now() / 1000) * 1000 + 1000).toISOString().replace('.000Z', 'Z');
    let refuse = true;
    h.rec.hold = (action) => {
      if (action === `patch rolebindings shop/${RBAC}`) h.rec.startJob('shop', TIMER, later);
      return undefined;
    };
    h.rec.fault = (a) => (a.startsWith('patch jobs') && refuse ? refused(500, 'etcd timeout') : undefined);
    await activate(h);
    const reason = () => h.rec.caches.grants.get('g', 'shop')?.status?.conditions?.find((c) => c.type === 'SecondDeadline')?.reason;
    expect(reason()).toBe('TimerStarting');
    refuse = false;
    await h.reconciler.reconcile(KEY);
    expect(reason()).toBe('TimerArmed');
  });

  test('grants of a namespace that end together share history writes, as they share index writes: each from our own last write, none lost', async () => {
    const h = harness();
    h.rec.allowed = () => true;
    const names = ['g', 'g2', 'g3'];
    for (const name of names.slice(1)) h.rec.seed('debuggrants', { ...grant(), metadata: { ...grant().metadata, name, uid: `u-${name}` } });
    await Promise.all(names.map((name) => h.reconciler.reconcile(`shop/${name}`)));
    await h.events.idle();
    h.clock.advance(HOUR);
    h.rec.allowed = () => false;
    let answerFirst: () => void = () => undefined;
    h.rec.hold = (action) =>
      action === `create ${HISTORY}`
        ? new Promise<void>((resolve) => {
            answerFirst = resolve;
          })
        : undefined;
    const ending = Promise.all(names.map((name) => h.reconciler.reconcile(`shop/${name}`)));
    await turns();
    answerFirst();
    const results = await ending;
    expect(results.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
    // The first end alone, then the two that waited for it in one write: two writes, not three.
    expect(h.rec.only('debuggranthistories')).toEqual([`create ${HISTORY}`, `replace ${HISTORY}`]);
    const history = h.rec.caches.histories.get('shop', 'debuggrant-system')?.ended?.map((e) => e.grant);
    expect(history?.sort()).toEqual(names);
  });

  test('a refusal (403) of the Role: the error and the deadline returned, the entry written before, Failing on the grant', async () => {
    const h = harness();
    h.rec.fault = (a) => (a.startsWith('patch roles') ? refused(403, 'roles.rbac.authorization.k8s.io is forbidden') : undefined);
    const result = await h.reconciler.reconcile(KEY);
    await h.events.idle();
    expect(result.error?.message).toMatch(/forbidden/);
    // Armed whatever failed: the entry (with the deadline) was written before the refused RBAC.
    expect(result.deadline).toBe(h.clock.now() + HOUR);
    expect(h.rec.only(...WRITES)).toEqual([
      'patch debuggrants shop/g',
      'create debuggrantindexes shop/grants',
      `create jobs shop/${TIMER}`,
      `patch roles shop/${RBAC}`,
      'patch debuggrants/status shop/g',
    ]);
    const failing = h.rec.caches.grants.get('g', 'shop')?.status?.conditions?.find((c) => c.type === 'Failing');
    expect(failing).toMatchObject({ status: 'True', reason: 'PermanentError' });
    expect(h.rec.has('rolebindings', 'shop', RBAC)).toBe(false);
  });

  test('a RoleBinding refused while the admission policy reads a lagging index is asked again on the clock (25, 50 ms …), then lands', async () => {
    const h = harness();
    h.rec.allowed = () => true;
    let refusals = 2;
    h.rec.fault = (a) =>
      a.startsWith('patch rolebindings') && refusals-- > 0
        ? refused(403, `RoleBinding shop/${RBAC} (grant g) ${NO_ACTIVE_ENTRY} for that grant and owner`)
        : undefined;
    const running = h.reconciler.reconcile(KEY);
    for (const wait of [25, 50]) {
      await timerArmed(h.clock);
      h.clock.advance(wait - 1);
      expect(h.rec.only('rolebindings')).toHaveLength(wait === 25 ? 1 : 2); // not asked again before the wait
      h.clock.advance(1);
    }
    const result = await running;
    expect(result.error).toBeUndefined();
    expect(h.rec.only('rolebindings')).toEqual(Array(3).fill(`patch rolebindings shop/${RBAC}`));
    expect(h.rec.has('rolebindings', 'shop', RBAC)).toBe(true);
  });

  test('a grant deleted without our finalizer: its RoleBinding, then its Role, then its end recorded; the deadline disarmed', async () => {
    const h = harness();
    await activate(h);
    h.rec.seed('debuggrants', { metadata: { name: 'other', namespace: 'shop' } }); // unrelated
    const before = h.rec.actions.length;
    h.rec.forget('debuggrants', 'shop', 'g'); // gone, finalizer and all
    const result = await h.reconciler.reconcile(KEY);
    expect(result).toEqual({ deadline: null });
    expect(h.rec.actions.slice(before)).toEqual([
      `delete rolebindings shop/${RBAC}`,
      `delete roles shop/${RBAC}`,
      `delete jobs shop/${TIMER}`,
      'replace debuggrantindexes shop/grants',
      `create ${HISTORY}`,
    ]);
  });
});

describe('revocation at the deadline (fake clock)', () => {
  test('the fast path deletes only the RoleBinding at the deadline; the reconcile after it deletes the Role, not the RoleBinding again', async () => {
    const h = harness();
    const { timer, nextAttempt } = timerOf(h);
    const activated = await activate(h);
    timer.set(KEY, activated.deadline ?? undefined);
    const before = h.rec.actions.length;
    h.clock.advance(HOUR - 1);
    expect(h.rec.actions.length).toBe(before); // nothing before the deadline
    const attempt = nextAttempt();
    h.clock.advance(1);
    await attempt;
    expect(h.rec.actions.slice(before)).toEqual([`delete rolebindings shop/${RBAC}`]);

    h.rec.allowed = () => false;
    const afterFastPath = h.rec.actions.length;
    const result = await h.reconciler.reconcile(KEY);
    expect(result.deadline).toBeNull();
    expect(h.rec.actions.slice(afterFastPath).filter((a) => WRITES.includes(a.split(' ')[1] ?? ''))).toEqual([
      `delete roles shop/${RBAC}`,
      `delete jobs shop/${TIMER}`,
      'replace debuggrantindexes shop/grants',
      `create ${HISTORY}`,
      'patch debuggrants/status shop/g',
    ]);
    await timer.stop();
  });

  test('the fast path says where its time went: ms after the deadline when the timer fired, the DELETE went out and was answered', async () => {
    const lines: Record<string, unknown>[] = [];
    const h = harness(makeLogger('debug', { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) }));
    const { timer, nextAttempt } = timerOf(h);
    const activated = await activate(h);
    let answer: () => void = () => undefined;
    h.rec.hold = (a) =>
      a.startsWith('delete rolebindings')
        ? new Promise<void>((resolve) => {
            answer = resolve;
          })
        : undefined;
    timer.set(KEY, activated.deadline ?? undefined);
    const attempt = nextAttempt();
    h.clock.advance(HOUR);
    await turns();
    h.clock.advance(40); // the API server takes 40 ms to answer
    answer();
    await attempt;
    expect(lines.filter((l) => l.msg === 'deadline revocation timing')).toEqual([
      expect.objectContaining({ key: KEY, timerLateMs: 0, lockWaitMs: 0, laneLateMs: 0, sentLateMs: 0, answeredLateMs: 40, deleted: true }),
    ]);
    await timer.stop();
  });

  test('a failing revocation is retried on its own schedule: 100, 200, 400 ms … at most 1 s apart', async () => {
    const h = harness();
    const { timer, nextAttempt } = timerOf(h);
    const activated = await activate(h);
    h.rec.fault = (a) => (a.startsWith('delete rolebindings') ? refused(503, 'unavailable') : undefined);
    timer.set(KEY, activated.deadline ?? undefined);
    const deletes = () => h.rec.only('rolebindings').filter((a) => a.startsWith('delete')).length;
    let attempt = nextAttempt();
    h.clock.advance(HOUR);
    await attempt;
    expect(deletes()).toBe(1);
    for (const [i, gap] of [100, 200, 400, 800, 1000, 1000].entries()) {
      attempt = nextAttempt();
      h.clock.advance(gap - 1);
      expect(deletes()).toBe(i + 1); // not yet
      h.clock.advance(1);
      await attempt;
      expect(deletes()).toBe(i + 2);
    }
    h.rec.fault = () => undefined;
    attempt = nextAttempt();
    h.clock.advance(1000);
    await attempt;
    expect(h.rec.has('rolebindings', 'shop', RBAC)).toBe(false);
    await timer.stop();
  });

  test('the grant controller arms the deadline before the reconcile writes: an index write whose answer hangs does not delay it', async () => {
    const h = harness();
    const { timer, nextAttempt } = timerOf(h);
    h.rec.allowed = () => true;
    let answer: () => void = () => undefined;
    h.rec.hold = (a) =>
      a.startsWith('create debuggrantindexes')
        ? new Promise<void>((resolve) => {
            answer = resolve;
          })
        : undefined;
    const controller = new GrantController(h.reconciler, timer, 1, {
      clock: h.clock,
      log: h.log,
      metrics: makeMetrics(
        () => ({}),
        () => 0,
        false,
      ),
    });
    const running = controller.run(KEY);
    while (!h.rec.actions.includes('create debuggrantindexes shop/grants')) await Promise.resolve();
    expect(timer.size).toBe(1);
    answer();
    await running;
    const attempt = nextAttempt();
    h.clock.advance(HOUR);
    await attempt;
    expect(h.rec.has('rolebindings', 'shop', RBAC)).toBe(false);
    await timer.stop();
    controller.queue.stop();
  });

  test('a deadline not yet due is not revoked, even when the timer is asked', async () => {
    const h = harness();
    await activate(h);
    const before = h.rec.actions.length;
    await h.fastPath.revoke(KEY);
    expect(h.rec.actions.slice(before)).toEqual([]);
  });
});

describe('the start-up sweep', () => {
  test('overdue by index entry or by status; orphaned by a RoleBinding whose grant is gone', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    const entry = (g: string, expiresAt: string) => ({
      grant: g,
      uid: `${g}-uid`,
      expiresAt,
      username: 'alice',
      group: '',
      pods: ['p'],
      image,
      profile: 'restricted',
      access: ['exec'],
    });
    const indexes = [
      { metadata: { name: 'grants', namespace: 'shop' }, active: [entry('a', '2026-11-23T11:00:00Z'), entry('b', '2026-11-23T13:00:00Z')], ended: [] },
    ];
    const grants = [
      { metadata: { name: 'c', namespace: 'shop' }, status: { phase: 'Active' as const, expiresAt: '2026-11-23T11:59:59Z' } },
      { metadata: { name: 'd', namespace: 'shop' }, status: { phase: 'Expired' as const, expiresAt: '2026-11-23T11:00:00Z' } },
    ];
    const binding = (g: string) => ({
      metadata: { name: rbacName(g), namespace: 'shop', labels: { 'debuggrant.dev/grant': g } },
      roleRef: { apiGroup: '', kind: 'Role', name: rbacName(g) },
    });
    const work = startupWork(indexes as never, grants, [binding('a'), binding('c'), binding('gone')], now);
    expect([...work.overdue].sort()).toEqual(['shop/a', 'shop/c']);
    // 'a' has no grant object either, but is overdue already: swept once, as overdue.
    expect([...work.orphaned]).toEqual(['shop/gone']);
  });
});
