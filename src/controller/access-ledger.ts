// What this process knows of a grant's access, for the record of one that ended with no
// status ever written (the back-dated grant.activated audit line):
// - `sent`: it sent RBAC for the grant (a write that may have landed), found it in place, or
//   deleted a RoleBinding of it: access existed or may have;
// - `entryWritten` only: it wrote the grant's index entry itself and sent no RBAC since: no
//   access existed;
// - neither: another process wrote the entry; what it sent is unknown, so access may have existed.
// And who ended it: `timerEnded` when the RoleBinding was already gone at the deadline while
// the grant's timer Job was armed (Kubernetes' controllers got there first; the audit's `by`).
export class AccessLedger {
  private readonly accessSent = new Set<string>();
  private readonly entryWrittenHere = new Set<string>();
  private readonly endedByTimer = new Set<string>();

  sent(key: string): void {
    this.accessSent.add(key);
  }

  entryWritten(key: string): void {
    this.entryWrittenHere.add(key);
  }

  mayHaveHadAccess(key: string): boolean {
    return this.accessSent.has(key) || !this.entryWrittenHere.has(key);
  }

  timerEnded(key: string): void {
    this.endedByTimer.add(key);
  }

  wasEndedByTimer(key: string): boolean {
    return this.endedByTimer.has(key);
  }

  forget(key: string): void {
    this.accessSent.delete(key);
    this.entryWrittenHere.delete(key);
    this.endedByTimer.delete(key);
  }
}
