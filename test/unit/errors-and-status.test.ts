import { ApiError } from '../../src/kube/api-error.ts';
import { describeError, isPermanent, isTemporary } from '../../src/runtime/errors.ts';
import { desiredStatus, failingStatus } from '../../src/controller/status.ts';
import type { GrantDecision } from '../../src/controller/plan.ts';

const apiError = (code: number) => new ApiError(code, `HTTP ${String(code)}`, { message: `server says ${String(code)}` }, {});

describe('error classification', () => {
  test.each([409, 429, 500, 503, 401])('HTTP %i is temporary (capped backoff)', (code) => {
    expect(isTemporary(apiError(code))).toBe(true);
    expect(isPermanent(apiError(code))).toBe(false);
  });

  test.each([400, 403, 404, 422])('HTTP %i is permanent (condition, Event, slow retry)', (code) => {
    expect(isPermanent(apiError(code))).toBe(true);
  });

  test('a network error is temporary; a wrapped API error is classified by its cause', () => {
    expect(isTemporary(new TypeError('fetch failed'))).toBe(true);
    const wrapped = new Error('updating shop/grants index failed', { cause: apiError(403) });
    expect(isPermanent(wrapped)).toBe(true);
    expect(describeError(wrapped)).toBe('updating shop/grants index failed: server says 403');
  });
});

describe('the Failing condition', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  test('set by a refused reconcile, cleared by the next one that completes', () => {
    const failing = failingStatus({ phase: 'Active', conditions: [] }, 'forbidden', 1, now);
    expect(failing.conditions?.find((c) => c.type === 'Failing')).toMatchObject({ status: 'True', reason: 'PermanentError', message: 'forbidden' });
    const decision = {
      phase: 'Active',
      reason: 'Activated',
      message: 'ok',
      pods: ['p'],
      activatedAt: now.toISOString(),
      expiresAt: now.toISOString(),
    } as GrantDecision;
    const next = desiredStatus(decision, failing, { granted: { ok: true, message: '' } }, undefined, 1, now);
    expect(next.conditions?.some((c) => c.type === 'Failing')).toBe(false);
  });
});
