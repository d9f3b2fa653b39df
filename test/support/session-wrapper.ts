// The deadline wrapper the admission policies put in front of a debug container's command
// (config/admission/session-deadline.yaml builds it in CEL), written out for tests: the
// integration tests check the API server's wrapper equals this, the unit test runs it.

/** The script of `sh -c SCRIPT debuggrant-deadline CMD...` for deadline D (Unix seconds) and cap N (seconds). */
export const sessionWrapperScript = (deadline: number, cap: number): string =>
  `t=$((${String(deadline)} - $(date +%s))); [ "$t" -le ${String(cap)} ] || t=${String(cap)}; [ "$t" -gt 0 ] || exit 124; ` +
  'f=; timeout --foreground 1 true 2>/dev/null && f=--foreground; timeout $f -s KILL "$t" "$@"; exit $?';

export const sessionWrapper = (deadline: number, cap: number): string[] => ['sh', '-c', sessionWrapperScript(deadline, cap), 'debuggrant-deadline'];
