import type { CachedPod } from '../../src/kube/cached.ts';
import { OVERDUE_GRACE_MS, lingeringOn, overdueSessions, wrapperDeadlineMs } from '../../src/controller/lingering/lingering.ts';
import { sessionWrapper } from '../support/session-wrapper.ts';

const D = 1_800_000_000;
const pod = (containers: { name: string; command?: string[]; running: boolean }[]): CachedPod => ({
  metadata: { name: 'p', namespace: 'ns' },
  spec: { ephemeralContainers: containers.map((c) => ({ name: c.name, image: 'img', ...(c.command ? { command: c.command } : {}) })) },
  status: { ephemeralContainerStatuses: containers.map((c) => ({ name: c.name, image: 'img', state: c.running ? { running: {} } : { terminated: {} } })) },
});

describe('debug containers past the deadline their wrapper carries', () => {
  test('the deadline is read from the wrapper the admission policies add, and only from it', () => {
    expect(wrapperDeadlineMs([...sessionWrapper(D, 60), 'sh'])).toBe(D * 1000);
    expect(wrapperDeadlineMs(['sh', '-c', 'sleep 1', 'other', 'x'])).toBeUndefined();
    expect(wrapperDeadlineMs(['sleep', 'inf'])).toBeUndefined();
    expect(wrapperDeadlineMs(undefined)).toBeUndefined();
  });

  test('running 2 s past its deadline is overdue; before that, a recheck at that moment; stopped or unwrapped never', () => {
    const p = pod([
      { name: 'wrapped', command: [...sessionWrapper(D, 60), 'sh'], running: true },
      { name: 'later', command: [...sessionWrapper(D + 30, 60), 'sh'], running: true },
      { name: 'ended', command: [...sessionWrapper(D, 60), 'sh'], running: false },
      { name: 'break-glass', command: ['sh'], running: true },
    ]);
    expect(overdueSessions(p, D * 1000 + OVERDUE_GRACE_MS - 1)).toEqual({ overdue: [], recheckAt: D * 1000 + OVERDUE_GRACE_MS });
    expect(overdueSessions(p, D * 1000 + OVERDUE_GRACE_MS)).toEqual({
      overdue: [{ container: 'wrapped', image: 'img', deadline: D * 1000 }],
      recheckAt: (D + 30) * 1000 + OVERDUE_GRACE_MS,
    });
  });

  test('a wrapped container is not lingering while it is ending by itself, then it is; an unwrapped one at once', () => {
    const p = pod([
      { name: 'wrapped', command: [...sessionWrapper(D, 60), 'sh'], running: true },
      { name: 'break-glass', command: ['sh'], running: true },
    ]);
    const names = (now: number) => lingeringOn(p, new Set(), now).map((r) => r.container);
    expect(names(D * 1000 + OVERDUE_GRACE_MS - 1)).toEqual(['break-glass']);
    expect(names(D * 1000 + OVERDUE_GRACE_MS)).toEqual(['break-glass', 'wrapped']);
    expect(lingeringOn(p, new Set(['p']), D * 1000 + OVERDUE_GRACE_MS)).toEqual([]);
  });
});
