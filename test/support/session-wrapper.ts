// The deadline wrapper the admission policies put in front of a debug container's command
// (config/admission/session-deadline.yaml builds it in CEL), written out for tests: the
// integration tests check the API server's wrappers equal these, the unit test runs them.

/**
 * Both begin alike: GNU timeout needs --foreground to leave the terminal to the command; then
 * wait for the next second of the clock (polling every 50 ms), so `timeout`'s whole seconds end
 * within ~50 ms after the deadline's second starts instead of anywhere in the second after it.
 */
const ALIGN = 'f=; timeout --foreground 1 true 2>/dev/null && f=--foreground; s=$(date +%s); while [ "$(date +%s)" = "$s" ]; do sleep 0.05; done; ';

/** The script of `sh -c SCRIPT debuggrant-deadline CMD...` for deadline D (Unix seconds) and cap N (seconds). */
export const sessionWrapperScript = (deadline: number, cap: number): string =>
  `${ALIGN}t=$((${String(deadline)} - $(date +%s))); [ "$t" -le ${String(cap)} ] || t=${String(cap)}; [ "$t" -gt 0 ] || exit 124; ` +
  'timeout $f -s KILL "$t" "$@"; exit $?';

export const sessionWrapper = (deadline: number, cap: number): string[] => ['sh', '-c', sessionWrapperScript(deadline, cap), 'debuggrant-deadline'];

/** The exec wrapper (config/admission/exec-deadline.yaml): the deadline only, a CONNECT carries no time of the API server. */
export const execWrapper = (deadline: number): string[] => [
  'sh',
  '-c',
  `${ALIGN}t=$((${String(deadline)} - $(date +%s))); [ "$t" -gt 0 ] || exit 124; ` + 'timeout $f -s KILL "$t" "$@"; exit $?',
  'debuggrant-deadline',
];
