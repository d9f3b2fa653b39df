import { sessionsBoundedCondition, unboundedAccess } from '../../src/controller/sessions-bounded.ts';

describe("whether a grant's sessions end at its deadline by themselves", () => {
  test("debug always, exec when the pods' containers have sh/date/timeout; attach, port-forward and logs -f never", () => {
    expect(unboundedAccess(['debug', 'exec'], 'timeout')).toEqual([]);
    expect(unboundedAccess(['debug', 'exec'], 'none')).toEqual(['exec']);
    expect(unboundedAccess(['debug', 'attach', 'portForward', 'logs'], 'timeout')).toEqual(['attach', 'portForward', 'logs']);
  });

  test('the condition names what outlives the deadline, or says all is bounded', () => {
    expect(sessionsBoundedCondition(['debug', 'exec'], 'timeout')).toMatchObject({ type: 'SessionsBounded', status: 'True', reason: 'DeadlineInCommand' });
    const c = sessionsBoundedCondition(['debug', 'exec', 'portForward'], 'none');
    expect(c).toMatchObject({ status: 'False', reason: 'UnboundedStreams' });
    expect(c.message).toContain('exec (execWrapper: none');
    expect(c.message).toContain('port-forward');
  });
});
