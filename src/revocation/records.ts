// What is on record about a grant name, read the same way by the deadline fast path, the
// startup scan, the overdue gauge and the reconcile. The record is the DebugGrantIndex's
// active entry: it is written before any RBAC exists, so whatever fails afterwards (a status
// write, the process), the deadline of every access that may exist is persisted there.
import type { CachedRole, CachedRoleBinding } from '../kube/cached.ts';
import type { ActiveGrantEntry, IndexContent } from '../api/grant-index.ts';
import type { DebugGrant } from '../api/types.ts';
import { GRANT_UID_LABEL } from '../api/names.ts';
import { objectKey } from '../runtime/object-key.ts';

/**
 * The earliest deadline on record for a grant name: its active index entry (whatever its uid:
 * any RoleBinding of this name stands for it) or the expiry in an Active status. undefined when
 * nothing of this name may hold access.
 */
export function recordedDeadline(index: IndexContent, name: string, grant: DebugGrant | undefined): number | undefined {
  const times = index.active.filter((e) => e.grant === name).map((e) => Date.parse(e.expiresAt));
  if (grant?.status?.phase === 'Active' && grant.status.expiresAt) times.push(Date.parse(grant.status.expiresAt));
  const valid = times.filter((t) => Number.isFinite(t));
  return valid.length > 0 ? Math.min(...valid) : undefined;
}

/** Keys ("namespace/name") whose recorded deadline is at or before `limit`. */
export function keysDueBy(
  indexes: readonly { metadata: { namespace?: string }; active?: IndexContent['active'] }[],
  grants: readonly DebugGrant[],
  limit: number,
): Set<string> {
  const due = new Set<string>();
  for (const i of indexes) {
    for (const e of i.active ?? []) if (Date.parse(e.expiresAt) <= limit) due.add(objectKey(i.metadata.namespace ?? '', e.grant));
  }
  for (const g of grants) {
    const expiresAt = g.status?.phase === 'Active' ? g.status.expiresAt : undefined;
    if (expiresAt && Date.parse(expiresAt) <= limit) due.add(objectKey(g.metadata.namespace ?? '', g.metadata.name ?? ''));
  }
  return due;
}

export interface Predecessor {
  uid: string;
  expiresAt: string | undefined;
  /** Who held the access, as the record names them. */
  subject: string;
}

/**
 * A previous grant of this name (another uid) whose access is still on record: an active
 * index entry or a Role/RoleBinding it owns. Nothing but its deletion without our finalizer
 * leaves that behind, so it means "the previous grant ended", never "a new one may begin".
 */
export function findPredecessor(
  index: IndexContent,
  name: string,
  uid: string,
  owned: readonly (CachedRole | CachedRoleBinding | undefined)[],
): Predecessor | undefined {
  const entry = index.active.find((e) => e.grant === name && e.uid !== uid);
  if (entry) return { uid: entry.uid, expiresAt: entry.expiresAt, subject: entrySubject(entry) };
  for (const o of owned) {
    // A RoleBinding owned by its grant's timer Job names the grant's uid in a label.
    const labelled = o?.metadata?.labels?.[GRANT_UID_LABEL];
    const owner =
      o?.metadata?.ownerReferences?.find((r) => r.kind === 'DebugGrant' && r.uid !== uid)?.uid ??
      (labelled !== undefined && labelled !== uid ? labelled : undefined);
    if (owner) {
      const subjects = o && 'subjects' in o ? (o.subjects ?? []).map((s) => `${s.kind} ${s.name}`).join(', ') : '';
      return { uid: owner, expiresAt: undefined, subject: subjects || '(unknown)' };
    }
  }
  return undefined;
}

/** The subject an index entry names, as audit lines write it. */
export const entrySubject = (e: ActiveGrantEntry): string => (e.username ? `User ${e.username}` : `Group ${e.group}`);
