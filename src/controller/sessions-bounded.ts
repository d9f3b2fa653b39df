// Whether every session a grant allows ends at its deadline by itself. Revoking RBAC ends no
// open stream; what ends one is the deadline the admission policies put into the command it
// runs: debug containers always (config/admission/session-deadline.yaml), exec when the pods'
// containers have sh, date and timeout (execWrapper, config/admission/exec-deadline.yaml).
// attach, port-forward and logs -f streams carry no command to wrap: they last as long as the
// container's process or the connection (README "Sessions and the deadline" has the figures).
import type { AccessKind } from '../api/access.ts';
import type { OperatorConfig } from '../config.ts';
import type { ConditionInput } from './conditions.ts';

export const SESSIONS_BOUNDED = 'SessionsBounded';

const STREAM_NAMES: Record<AccessKind, string> = {
  debug: 'debug containers',
  exec: 'exec',
  attach: 'attach',
  portForward: 'port-forward',
  logs: 'logs -f',
};

/** The access kinds of a grant whose streams, opened before the deadline, can outlive it. */
export function unboundedAccess(access: readonly AccessKind[], execWrapper: OperatorConfig['execWrapper']): AccessKind[] {
  return access.filter((k) => k === 'attach' || k === 'portForward' || k === 'logs' || (k === 'exec' && execWrapper === 'none'));
}

export function sessionsBoundedCondition(access: readonly AccessKind[], execWrapper: OperatorConfig['execWrapper']): ConditionInput {
  const unbounded = unboundedAccess(access, execWrapper);
  if (unbounded.length === 0) {
    return {
      type: SESSIONS_BOUNDED,
      status: 'True',
      reason: 'DeadlineInCommand',
      message: `${access.map((k) => STREAM_NAMES[k]).join(' and ')} sessions carry the deadline in their command and end by it, with or without the operator`,
    };
  }
  const why = unbounded.map((k) => (k === 'exec' ? "exec (execWrapper: none: the pods' containers lack sh, date or timeout)" : STREAM_NAMES[k])).join(', ');
  return {
    type: SESSIONS_BOUNDED,
    status: 'False',
    reason: 'UnboundedStreams',
    message: `streams opened before the deadline are not ended by it: ${why}; they last while the connection and the container's process do (README "Sessions and the deadline")`,
  };
}
