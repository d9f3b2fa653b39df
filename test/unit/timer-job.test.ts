import { cachedTimer, type CachedTimer } from '../../src/kube/cached.ts';
import { timerWasArmed } from '../../src/revocation/second-deadline.ts';
import {
  bindingOwner,
  deadlineSeconds,
  desiredTimer,
  firesAt,
  NO_CONTROLLER_AFTER_MS,
  recheckStartingAfter,
  secondDeadlineCondition,
  shortenedDeadline,
  TIMER_GATE,
  timerName,
  timerState,
} from '../../src/revocation/timer-job.ts';

const ref = { namespace: 'shop', name: 'inc-1', uid: 'grant-uid' };
const at = (iso: string): number => Date.parse(iso);

function timer(over: Partial<CachedTimer> = {}, meta: Partial<CachedTimer['metadata']> = {}): CachedTimer {
  return {
    metadata: {
      name: timerName(ref.name),
      namespace: ref.namespace,
      uid: 'job-uid',
      creationTimestamp: '2026-01-01T00:00:10Z',
      labels: { 'debuggrant.dev/timer': 'true', 'debuggrant.dev/grant': ref.name },
      ownerReferences: [{ apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrant', name: ref.name, uid: ref.uid }],
      ...meta,
    },
    activeDeadlineSeconds: 11,
    ...over,
  };
}

describe('timer Job planning', () => {
  test('names: readable when they fit a Job name, else cut with a hash of the whole name', () => {
    expect(timerName('inc-1')).toBe('debuggrant-timer-inc-1');
    const long = 'a'.repeat(50) + '-checkout-latency';
    const other = 'a'.repeat(50) + '-checkout-latencz';
    expect(timerName(long).length).toBeLessThanOrEqual(63);
    expect(timerName(long)).toMatch(/^debuggrant-timer-a+-[0-9a-f]{8}$/);
    expect(timerName(long)).not.toBe(timerName(other));
    expect(timerName(long)).toBe(timerName(long));
  });

  test('the deadline counts from the whole second holding the start: it fires at the first whole second at or after expiresAt', () => {
    expect(deadlineSeconds(at('2026-01-01T00:00:20.500Z'), at('2026-01-01T00:00:10.900Z'))).toBe(11);
    expect(deadlineSeconds(at('2026-01-01T00:00:20.000Z'), at('2026-01-01T00:00:10.000Z'))).toBe(10);
    // Never below 1 (the API server refuses 0), even when the deadline is already past.
    expect(deadlineSeconds(at('2026-01-01T00:00:05Z'), at('2026-01-01T00:00:10Z'))).toBe(1);
    // Stored startTime (whole seconds) + the deadline is never before expiresAt and less than a second after.
    for (let i = 0; i < 500; i++) {
      const start = 1_700_000_000_000 + Math.floor(Math.random() * 10_000);
      const expires = start + 1 + Math.floor(Math.random() * 100_000);
      const fires = Math.floor(start / 1000) * 1000 + deadlineSeconds(expires, start) * 1000;
      expect(fires).toBeGreaterThanOrEqual(expires);
      expect(fires - expires).toBeLessThan(1000);
    }
  });

  test('the Job can never run a pod, ends at the deadline, is deleted at once after, and is owned by the grant', () => {
    const job = desiredTimer(ref, '2026-01-01T00:00:20.500Z', at('2026-01-01T00:00:10.900Z'));
    expect(job.metadata).toMatchObject({
      name: 'debuggrant-timer-inc-1',
      namespace: 'shop',
      labels: { 'app.kubernetes.io/managed-by': 'debuggrant', 'debuggrant.dev/grant': 'inc-1', 'debuggrant.dev/timer': 'true' },
      ownerReferences: [{ kind: 'DebugGrant', name: 'inc-1', uid: 'grant-uid', controller: true }],
    });
    expect(job.spec).toMatchObject({ parallelism: 0, activeDeadlineSeconds: 11, ttlSecondsAfterFinished: 0 });
    expect(job.spec?.suspend).toBeUndefined();
    expect(job.spec?.template.spec?.schedulingGates).toEqual([{ name: TIMER_GATE }]);
    expect(job.spec?.template.spec?.nodeName).toBeUndefined();
    expect(job.spec?.template.spec?.automountServiceAccountToken).toBe(false);
  });

  test('states: missing, not ours, ending, starting, armed', () => {
    expect(timerState(undefined, ref)).toBe('missing');
    expect(timerState(timer({}, { ownerReferences: [{ apiVersion: 'v1', kind: 'DebugGrant', name: ref.name, uid: 'predecessor' }] }), ref)).toBe('foreign');
    expect(timerState(timer({}, { labels: {} }), ref)).toBe('foreign');
    expect(timerState(timer({}, { deletionTimestamp: '2026-01-01T00:00:15Z' }), ref)).toBe('ending');
    expect(timerState(timer({ startTime: '2026-01-01T00:00:10Z', finished: true }), ref)).toBe('ending');
    expect(timerState(timer(), ref)).toBe('starting');
    expect(timerState(timer({ startTime: '2026-01-01T00:00:10Z' }), ref)).toBe('armed');
  });

  test('a timer the Job controller started in a later second is shortened, once; never lengthened', () => {
    const expires = at('2026-01-01T00:00:20.500Z');
    expect(shortenedDeadline(timer({ startTime: '2026-01-01T00:00:10Z' }), expires)).toBeUndefined();
    const late = timer({ startTime: '2026-01-01T00:00:12Z' });
    expect(shortenedDeadline(late, expires)).toBe(9);
    expect(firesAt({ ...late, activeDeadlineSeconds: 9 })).toBe(at('2026-01-01T00:00:21Z'));
    // Started earlier than planned (a clock behind ours): a longer deadline is never asked for.
    expect(shortenedDeadline(timer({ startTime: '2026-01-01T00:00:09Z' }), expires)).toBeUndefined();
    expect(shortenedDeadline(timer(), expires)).toBeUndefined();
  });

  test('the RoleBinding is owned by a live timer, else by the grant', () => {
    expect(bindingOwner(ref, timer(), 'starting')).toEqual({ apiVersion: 'batch/v1', kind: 'Job', name: 'debuggrant-timer-inc-1', uid: 'job-uid' });
    expect(bindingOwner(ref, timer({ startTime: '2026-01-01T00:00:10Z' }), 'armed').uid).toBe('job-uid');
    for (const state of ['missing', 'foreign', 'ending'] as const) {
      expect(bindingOwner(ref, timer(), state)).toEqual({
        apiVersion: 'debuggrant.dev/v1alpha1',
        kind: 'DebugGrant',
        name: 'inc-1',
        uid: 'grant-uid',
        controller: true,
      });
    }
  });

  test('the SecondDeadline condition tells what holds the deadline, and when no Job controller runs the timer', () => {
    const created = at('2026-01-01T00:00:10Z');
    const starting = timer();
    expect(secondDeadlineCondition(starting, 'starting', created + 1000)).toMatchObject({ status: 'Unknown', reason: 'TimerStarting' });
    expect(recheckStartingAfter(starting, created + 1000)).toBe(NO_CONTROLLER_AFTER_MS - 1000);
    const none = secondDeadlineCondition(starting, 'starting', created + NO_CONTROLLER_AFTER_MS);
    expect(none).toMatchObject({ status: 'False', reason: 'NoJobController' });
    expect(none.message).toContain('no status.startTime 5s after it was created');
    expect(recheckStartingAfter(starting, created + NO_CONTROLLER_AFTER_MS)).toBeUndefined();
    // The same observed timer says the same later: a condition that moved with the clock was written on every reconcile.
    expect(secondDeadlineCondition(starting, 'starting', created + 10 * NO_CONTROLLER_AFTER_MS + 321)).toEqual(none);
    const armed = secondDeadlineCondition(timer({ startTime: '2026-01-01T00:00:10Z' }), 'armed', created);
    expect(armed).toMatchObject({ status: 'True', reason: 'TimerArmed' });
    expect(armed.message).toContain('fails at 2026-01-01T00:00:21.000Z');
    const refused = secondDeadlineCondition(undefined, 'missing', created, 'jobs "x" is forbidden: exceeded quota: q, requested: count/jobs.batch=1');
    expect(refused).toMatchObject({ status: 'False', reason: 'TimerRefused' });
    expect(refused.message).toContain('exceeded quota');
    expect(secondDeadlineCondition(timer(), 'foreign', created)).toMatchObject({ status: 'False', reason: 'TimerNameTaken' });
  });

  test('who ended it: the controllers only when the timer was armed and the grant had a RoleBinding', () => {
    const cond = (status: 'True' | 'False') => [{ type: 'SecondDeadline', status, reason: 'x', message: '', lastTransitionTime: '' }];
    expect(timerWasArmed(cond('True'), ['web-1'])).toBe(true);
    expect(timerWasArmed(cond('False'), ['web-1'])).toBe(false);
    expect(timerWasArmed(cond('True'), [])).toBe(false);
    expect(timerWasArmed(undefined, ['web-1'])).toBe(false);
  });

  test('the cached timer keeps what planning reads, from a watch event or from the generated client', () => {
    const raw = {
      metadata: { name: 't', namespace: 'shop', uid: 'u', creationTimestamp: '2026-01-01T00:00:10Z', labels: { a: 'b' }, annotations: { big: 'x' } },
      spec: { activeDeadlineSeconds: 11, template: { spec: { containers: [] } } },
      status: { startTime: '2026-01-01T00:00:10Z', conditions: [{ type: 'FailureTarget', status: 'True' }] },
    };
    expect(cachedTimer(raw)).toEqual({
      metadata: { name: 't', namespace: 'shop', uid: 'u', creationTimestamp: '2026-01-01T00:00:10Z', labels: { a: 'b' } },
      activeDeadlineSeconds: 11,
      startTime: '2026-01-01T00:00:10Z',
      finished: true,
    });
    const fromClient = cachedTimer({
      ...raw,
      metadata: { ...raw.metadata, creationTimestamp: new Date('2026-01-01T00:00:10Z') },
      status: { startTime: new Date('2026-01-01T00:00:10Z') },
    });
    expect(fromClient.metadata.creationTimestamp).toBe('2026-01-01T00:00:10Z');
    expect(fromClient.startTime).toBe('2026-01-01T00:00:10Z');
    expect(fromClient.finished).toBeUndefined();
  });
});
