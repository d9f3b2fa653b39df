// The deadline wrapper of `kubectl debuggrant debug`: the debug container's command runs
// under `timeout -s KILL`, with the seconds left counted inside the container when it starts
// (from the grant's deadline as a Unix time), so the time kubectl and the kubelet take to
// start it does not stretch the session. Revoking RBAC ends no stream that is already open;
// this does. Needs `sh`, `date` and `timeout` in the image: busybox, alpine, debian/ubuntu,
// netshoot have them; distroless images do not.

/** The grant's deadline in whole Unix seconds (rounded down); refuses one already past. */
export function deadlineSeconds(expiresAt: string | undefined, now: Date): number {
  const end = Date.parse(expiresAt ?? '');
  if (Number.isNaN(end)) throw new Error('the grant has no status.expiresAt yet: wait until it is Active');
  const deadline = Math.floor(end / 1000);
  if (deadline <= Math.floor(now.getTime() / 1000)) throw new Error(`the grant's deadline ${expiresAt ?? ''} has passed`);
  return deadline;
}

/**
 * The shell script of the wrapper: exits at once past the deadline (`timeout 0` would never
 * end). The command must not become the container's PID 1, which ignores a SIGKILL sent from
 * inside its PID namespace, and busybox's timeout execs the command and signals it from a
 * child: so `timeout` runs as the shell's child, and the trailing `exit` keeps busybox sh
 * from exec'ing its last command in place of itself.
 */
export function deadlineScript(deadline: number): string {
  return `t=$((${String(deadline)} - $(date +%s))); [ "$t" -gt 0 ] || exit 124; timeout -s KILL "$t" "$@"; exit $?`;
}

/**
 * `kubectl debug` arguments with the container's command wrapped: `-- CMD…` becomes
 * `-- sh -c <script> deadline CMD…`; without a command, the wrapped command is `sh`.
 */
export function withDeadline(args: readonly string[], deadline: number): string[] {
  const split = args.indexOf('--');
  const before = split < 0 ? args : args.slice(0, split);
  const command = split < 0 ? ['sh'] : args.slice(split + 1);
  if (command.length === 0) throw new Error('nothing after --: give the command to run in the debug container');
  return [...before, '--', 'sh', '-c', deadlineScript(deadline), 'deadline', ...command];
}
