// The deadline wrapper the admission policies put in front of a debug container's command
// (config/admission/session-deadline.yaml builds it in CEL), written out for tests: the
// integration tests check the API server's wrappers equal these, the unit test runs them.

/** The script of `sh -c SCRIPT debuggrant-deadline CMD...` for deadline D (Unix seconds) and cap N (seconds). */
export const sessionWrapperScript = (deadline: number, cap: number): string =>
  `t=$((${String(deadline)} - $(date +%s))); [ "$t" -le ${String(cap)} ] || t=${String(cap)}; [ "$t" -gt 0 ] || exit 124; ` +
  'f=; timeout --foreground 1 true 2>/dev/null && f=--foreground; timeout $f -s KILL "$t" "$@"; exit $?';

export const sessionWrapper = (deadline: number, cap: number): string[] => ['sh', '-c', sessionWrapperScript(deadline, cap), 'debuggrant-deadline'];

/** The exec wrapper (config/admission/exec-deadline.yaml): the deadline only, a CONNECT carries no time of the API server. */
export const execWrapper = (deadline: number): string[] => ['sh', '-c',
  `t=$((${String(deadline)} - $(date +%s))); [ "$t" -gt 0 ] || exit 124; ` +
  'f=; timeout --foreground 1 true 2>/dev/null && f=--foreground; timeout $f -s KILL "$t" "$@"; exit $?', 'debuggrant-deadline'];
