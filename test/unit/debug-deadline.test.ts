import { deadlineSeconds } from '../../src/cli/deadline.ts';

describe("kubectl debuggrant debug: the grant's deadline", () => {
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
});
