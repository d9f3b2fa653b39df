// Ready / Reconciling / Stalled per phase, as kstatus reads them (Stalled=True: Failed,
// Reconciling=True: InProgress, else Ready=True: Current). The real kstatus library and the Argo CD
// Lua check run over real objects in test/integration/gitops-health.test.ts.
import { desiredStatus, failingStatus, type Verification } from '../../src/controller/status.ts';
import type { GrantDecision } from '../../src/controller/plan.ts';
import type { Condition, DebugGrantStatus, GrantPhase, LingeringContainer } from '../../src/api/types.ts';

const now = new Date('2026-11-23T10:00:00Z');
const decision = (phase: GrantPhase, reason: string, pods: string[] = ['p-1']): GrantDecision =>
  ({
    phase,
    reason,
    message: `${phase} because ${reason}`,
    pods,
    activatedAt: now.toISOString(),
    expiresAt: now.toISOString(),
  }) as GrantDecision;
const lingering: LingeringContainer = { pod: 'p-1', container: 'debugger-x', image: 'img' };

function verdict(status: DebugGrantStatus): string {
  const c = (type: string): Condition | undefined => status.conditions?.find((x) => x.type === type);
  return [c('Ready'), c('Reconciling'), c('Stalled')].map((x) => `${x?.status ?? '-'}/${x?.reason ?? '-'}`).join(' ');
}

describe('kstatus conditions by phase', () => {
  test.each<[string, GrantDecision, Verification, LingeringContainer[], string]>([
    [
      'Active, verified: healthy',
      decision('Active', 'Activated'),
      { granted: { ok: true, message: '' } },
      [],
      'True/AccessVerified False/AccessVerified False/AccessVerified',
    ],
    ['Active, not verified yet: progressing', decision('Active', 'Activated'), {}, [], 'Unknown/Verifying True/Verifying False/Verifying'],
    [
      'Active, authorizer not agreeing yet: progressing',
      decision('Active', 'Activated'),
      { granted: { ok: false, message: 'no' } },
      [],
      'False/AccessNotEffective True/AccessNotEffective False/AccessNotEffective',
    ],
    ['Active, no pod matches: progressing', decision('Active', 'NoMatchingPods', []), {}, [], 'False/NoMatchingPods True/NoMatchingPods False/NoMatchingPods'],
    [
      'Expired, revocation verified: a normal end',
      decision('Expired', 'TTLElapsed'),
      { revoked: { ok: true, message: '' } },
      [],
      'True/TTLElapsed False/TTLElapsed False/TTLElapsed',
    ],
    [
      'Expired, revocation being verified: progressing',
      decision('Expired', 'TTLElapsed'),
      {},
      [],
      'Unknown/VerifyingRevocation True/VerifyingRevocation False/VerifyingRevocation',
    ],
    [
      'Expired with no pod ever granted: nothing to verify, a normal end',
      decision('Expired', 'NotAfterReached', []),
      {},
      [],
      'True/NotAfterReached False/NotAfterReached False/NotAfterReached',
    ],
    [
      'Revoked, verified: a normal end',
      decision('Revoked', 'RevokedByRequest'),
      { revoked: { ok: true, message: '' } },
      [],
      'True/RevokedByRequest False/RevokedByRequest False/RevokedByRequest',
    ],
    [
      'Expired with standing access: degraded',
      decision('Expired', 'TTLElapsed'),
      { revoked: { ok: false, message: 'still has exec' } },
      [],
      'False/StandingAccess False/StandingAccess True/StandingAccess',
    ],
    [
      'Expired with a debug container still running: degraded',
      decision('Expired', 'TTLElapsed'),
      { revoked: { ok: true, message: '' } },
      [lingering],
      'False/LingeringEphemeralContainer False/LingeringEphemeralContainer True/LingeringEphemeralContainer',
    ],
    ['Denied: degraded', decision('Denied', 'PolicyViolation', []), {}, [], 'False/PolicyViolation False/PolicyViolation True/PolicyViolation'],
  ])('%s', (_name, d, v, running, expected) => {
    expect(verdict(desiredStatus(d, undefined, v, [], 3, now, running))).toBe(expected);
  });

  test('the running debug container is named in Stalled, and the grant is healthy again once it stops', () => {
    const d = decision('Expired', 'TTLElapsed');
    const stalled = desiredStatus(d, undefined, { revoked: { ok: true, message: '' } }, [lingering], 3, now, [lingering]);
    expect(stalled.conditions?.find((c) => c.type === 'Stalled')?.message).toContain('p-1/debugger-x');
    // The record stays (status.lingering); the degradation goes with the container.
    const after = desiredStatus(d, stalled, { revoked: { ok: true, message: '' } }, [lingering], 3, now, []);
    expect(after.lingering).toEqual([lingering]);
    expect(verdict(after)).toBe('True/TTLElapsed False/TTLElapsed False/TTLElapsed');
  });

  test('every write carries observedGeneration, on the status and on every condition, kept ones too', () => {
    const previous: DebugGrantStatus = {
      observedGeneration: 1,
      conditions: [{ type: 'SomethingElse', status: 'True', reason: 'X', message: '', lastTransitionTime: now.toISOString(), observedGeneration: 1 }],
    };
    const status = desiredStatus(decision('Active', 'Activated'), previous, { granted: { ok: true, message: '' } }, undefined, 2, now);
    expect(status.observedGeneration).toBe(2);
    expect(status.conditions?.map((c) => [c.type, c.observedGeneration])).toEqual(
      ['Expired', 'Ready', 'Reconciling', 'SomethingElse', 'Stalled'].map((t) => [t, 2]),
    );
  });

  test('a refused reconcile is Stalled (Failed), never Reconciling, and observes the generation it failed on', () => {
    const verifying = desiredStatus(decision('Active', 'Activated'), undefined, {}, undefined, 1, now);
    const failing = failingStatus(verifying, 'forbidden', 2, now);
    expect(failing.observedGeneration).toBe(2);
    expect(verdict(failing)).toBe('Unknown/Verifying False/PermanentError True/PermanentError');
    expect(failing.conditions?.every((c) => c.observedGeneration === 2)).toBe(true);
    // The next reconcile that completes clears it.
    const next = desiredStatus(decision('Active', 'Activated'), failing, { granted: { ok: true, message: '' } }, undefined, 2, now);
    expect(verdict(next)).toBe('True/AccessVerified False/AccessVerified False/AccessVerified');
  });
});
