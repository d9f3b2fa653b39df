// Go-style durations ("90s", "45m", "1h30m"), the form kubectl and Kubernetes users write.
// The same grammar is enforced by the CRD's CEL `duration()` and pattern.
export const DURATION_PATTERN = '^([0-9]+h)?([0-9]+m)?([0-9]+s)?$';
const durationRe = new RegExp(DURATION_PATTERN);

/** Milliseconds of a duration string, or undefined when it is not one (or is empty). */
export function parseDuration(text: string): number | undefined {
  const m = durationRe.exec(text);
  if (!m || text === '') return undefined;
  const [, h, min, s] = m;
  return (parseInt(h ?? '0', 10) * 3600 + parseInt(min ?? '0', 10) * 60 + parseInt(s ?? '0', 10)) * 1000;
}

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const parts = [h ? `${h}h` : '', m ? `${m}m` : '', s || (!h && !m) ? `${s}s` : ''];
  return parts.join('');
}
