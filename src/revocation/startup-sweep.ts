// Before anything else at start: take away every access whose deadline passed while no
// operator was running, as the record has it (index entries too: a grant may have RBAC and no
// status yet). The RoleBindings go first, from the record alone: the pod cache (the largest
// list by far, 50,000 pods in a big cluster) is not needed for that, so it is not waited for.
import type { DebugGrantIndex } from '../api/grant-index.ts';
import type { DebugGrant } from '../api/types.ts';
import { owningGrant } from '../controller/event-mappers.ts';
import type { CachedRoleBinding } from '../kube/cached.ts';
import { objectKey } from '../runtime/object-key.ts';
import { keysDueBy } from './records.ts';

export interface StartupWork {
  /** Grants whose recorded deadline has passed: their RoleBindings go first (the fast path). */
  overdue: Set<string>;
  /**
   * Grants gone while the operator was away (finalizer removed by hand) whose RoleBindings,
   * found by our label, remain: their reconcile is the clean-up, and needs no pods either.
   */
  orphaned: Set<string>;
}

/** What the start-up sweep must revoke, from the caches of grants, index entries and RoleBindings. */
export function startupWork(
  indexes: readonly DebugGrantIndex[],
  grants: readonly DebugGrant[],
  bindings: readonly CachedRoleBinding[],
  now: number,
): StartupWork {
  const overdue = keysDueBy(indexes, grants, now);
  const present = new Set(grants.map((g) => objectKey(g.metadata.namespace ?? '', g.metadata.name ?? '')));
  const orphaned = new Set<string>();
  for (const b of bindings) {
    const grant = owningGrant(b);
    const key = grant && objectKey(b.metadata?.namespace ?? '', grant);
    if (key && !present.has(key) && !overdue.has(key)) orphaned.add(key);
  }
  return { overdue, orphaned };
}

export interface SweepActions {
  /** The deadline's fast path (fast-path.ts). */
  revoke(key: string): Promise<void>;
  /** A grant's full reconcile. */
  reconcile(key: string): Promise<void>;
  /** A failure: the grant queue (and, for a deadline, the deadline timer) tries again. */
  failed(key: string, err: unknown): void;
}

/** The first phase: RoleBindings of overdue grants, and whatever orphaned grants left behind. */
export async function revokeWithoutPods(work: StartupWork, act: SweepActions): Promise<void> {
  const attempt = (key: string, p: Promise<void>): Promise<void> =>
    p.catch((err: unknown) => {
      act.failed(key, err);
    });
  await Promise.all([...[...work.overdue].map((key) => attempt(key, act.revoke(key))), ...[...work.orphaned].map((key) => attempt(key, act.reconcile(key)))]);
}

/** The second phase, once pods are listed: the rest of each overdue expiry (Role, index entry, status, audit lines). */
export async function finishOverdue(work: StartupWork, act: SweepActions): Promise<void> {
  await Promise.all(
    [...work.overdue].map((key) =>
      act.reconcile(key).catch((err: unknown) => {
        act.failed(key, err);
      }),
    ),
  );
}
