import { execFileSync } from 'node:child_process';
import { deadlineScript, deadlineSeconds, withDeadline } from '../../src/cli/deadline.ts';

describe('deadline wrapper of kubectl debuggrant debug', () => {
  const now = new Date('2026-11-24T10:00:00.000Z');
  const nowSeconds = Math.floor(now.getTime() / 1000);

  test('the deadline rounds down, so the session never outlives the grant', () => {
    expect(deadlineSeconds('2026-11-24T10:05:00.900Z', now)).toBe(nowSeconds + 300);
  });

  test('a grant at or past its deadline, or without one, is refused', () => {
    expect(() => deadlineSeconds('2026-11-24T10:00:00.999Z', now)).toThrow(/has passed/);
    expect(() => deadlineSeconds('2026-11-24T09:00:00Z', now)).toThrow(/has passed/);
    expect(() => deadlineSeconds(undefined, now)).toThrow(/no status.expiresAt/);
  });

  test('wraps the given command, or sh when there is none', () => {
    const script = deadlineScript(nowSeconds + 90);
    expect(withDeadline(['-it', '--container=dbg', '--', 'tcpdump', '-i', 'any'], nowSeconds + 90))
      .toEqual(['-it', '--container=dbg', '--', 'sh', '-c', script, 'deadline', 'tcpdump', '-i', 'any']);
    expect(withDeadline(['-it'], nowSeconds + 90)).toEqual(['-it', '--', 'sh', '-c', script, 'deadline', 'sh']);
    expect(() => withDeadline(['-it', '--'], nowSeconds + 90)).toThrow(/nothing after --/);
  });

  test('the script runs the command until the deadline and refuses to start past it', () => {
    // GNU timeout exits 137 after the KILL; busybox's is killed itself (it execs the command).
    const sh = (deadline: number, ...cmd: string[]): { status: number | string; out: string } => {
      try {
        return { status: 0, out: execFileSync('sh', ['-c', deadlineScript(deadline), 'deadline', ...cmd], { encoding: 'utf8' }) };
      } catch (err) {
        const e = err as { status: number | null; signal: string | null; stdout: string };
        return { status: e.status ?? e.signal ?? '', out: e.stdout };
      }
    };
    const unix = Math.floor(Date.now() / 1000);
    expect(sh(unix + 60, 'echo', 'hello')).toEqual({ status: 0, out: 'hello\n' });
    expect(sh(unix - 1, 'echo', 'too late')).toEqual({ status: 124, out: '' });
    const started = Date.now();
    expect([137, 'SIGKILL']).toContain(sh(unix + 2, 'sleep', '30').status);
    expect(Date.now() - started).toBeLessThan(3_500);
  });
});
