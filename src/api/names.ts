// Names, labels and annotations the operator owns. Everything it creates carries
// MANAGED_BY and the grant label, so informers can select exactly its objects.
import type { Subject } from './schema.ts';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'debuggrant';
export const GRANT_LABEL = 'debuggrant.dev/grant';
/**
 * The grant's uid on its RoleBinding: the binding's owner is the grant's timer Job, not the
 * grant, so config/admission/rbac-deadline.yaml reads the grant's uid from here.
 */
export const GRANT_UID_LABEL = 'debuggrant.dev/grant-uid';
/** Marks a grant's timer Job (src/revocation/timer-job.ts); config/admission/timers.yaml guards every Job carrying it. */
export const TIMER_LABEL = 'debuggrant.dev/timer';
/** The finalizer: deleting a grant comes back to the operator, which takes its access away first. */
export const FINALIZER = 'debuggrant.dev/rbac-cleanup';
/**
 * The finalizer operators before 0.2 wrote (the same string as REVOKE_ANNOTATION, which made one
 * name mean two things). Honoured like FINALIZER while a grant carries it; the operator replaces
 * it with FINALIZER at the grant's next reconcile (src/kube/grants.ts ownFinalizers).
 */
export const LEGACY_FINALIZER = 'debuggrant.dev/revoke';
export const LINGERING_ANNOTATION = 'debuggrant.dev/lingering';
/** How each debug container on a pod was classified (its grant, or outside any) and what was told (controller/pod-sessions.ts). */
export const SESSIONS_ANNOTATION = 'debuggrant.dev/sessions';
/** Set (by `kubectl debuggrant revoke`) to end a grant now; its value says why. */
export const REVOKE_ANNOTATION = 'debuggrant.dev/revoke';
/**
 * Who asked for the revocation: an admission policy (config/admission/revocation.yaml)
 * requires it to be the requesting user's own name, so it is the API server's word.
 */
export const REVOKED_BY_ANNOTATION = 'debuggrant.dev/revoked-by';
export const FIELD_MANAGER = 'debuggrant-operator';

export const INDEX_KIND = 'DebugGrantIndex';
export const INDEX_PLURAL = 'debuggrantindexes';
/** One index per namespace, always this name: the admission policy's paramRef names it. */
export const INDEX_NAME = 'grants';
/** The record of spent grant names of each namespace, kept in the operator's own namespace. */
export const HISTORY_KIND = 'DebugGrantHistory';
export const HISTORY_PLURAL = 'debuggranthistories';

export const rbacName = (grant: string): string => `debuggrant-${grant}`;

/** The username the API server reports for a subject (what admission compares). */
export function subjectUsername(s: Subject): string | undefined {
  if (s.kind === 'User') return s.name;
  if (s.kind === 'ServiceAccount') return `system:serviceaccount:${s.namespace ?? ''}:${s.name}`;
  return undefined;
}

export const subjectText = (s: Subject): string => (s.kind === 'ServiceAccount' ? `ServiceAccount ${s.namespace ?? ''}/${s.name}` : `${s.kind} ${s.name}`);
