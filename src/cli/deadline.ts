// `kubectl debuggrant debug` refuses a grant whose deadline has passed before running kubectl
// (the API server would refuse the debug container anyway, with a longer message). The debug
// container's deadline itself is put into its command by the API server's admission policies
// (config/admission/session-deadline.yaml), whoever sends the request.

/** The grant's deadline in whole Unix seconds (rounded down); refuses one already past. */
export function deadlineSeconds(expiresAt: string | undefined, now: Date): number {
  const end = Date.parse(expiresAt ?? '');
  if (Number.isNaN(end)) throw new Error('the grant has no status.expiresAt yet: wait until it is Active');
  const deadline = Math.floor(end / 1000);
  if (deadline <= Math.floor(now.getTime() / 1000)) throw new Error(`the grant's deadline ${expiresAt ?? ''} has passed`);
  return deadline;
}
