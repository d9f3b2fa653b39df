// The least RBAC for one grant: a Role naming exactly the granted pods and the verbs
// its access list needs, and a RoleBinding to its subject.
import type { V1OwnerReference, V1PolicyRule, V1Role, V1RoleBinding, RbacV1Subject } from '@kubernetes/client-node';
import { permissionsFor } from '../api/access.ts';
import { GRANT_LABEL, GRANT_UID_LABEL, MANAGED_BY, MANAGED_BY_LABEL, rbacName } from '../api/names.ts';
import { API_VERSION, GROUP, KIND, PLURAL, type DebugGrantSpec, type Subject } from '../api/schema.ts';
import { contentDigest, sameContent } from '../api/equal.ts';
import type { CachedRole } from '../kube/cached.ts';

export interface GrantRef {
  name: string;
  namespace: string;
  uid: string;
}

export interface GrantRbac {
  role: V1Role;
  binding: V1RoleBinding;
}

/**
 * Undefined when no pod matches: a rule with an empty resourceNames list would cover
 * every pod in the namespace, so "no pods" must mean "no Role", never "a Role without names".
 */
export function planGrantRbac(grant: GrantRef, spec: Pick<DebugGrantSpec, 'access' | 'subject'>, pods: readonly string[]): GrantRbac | undefined {
  if (pods.length === 0) return undefined;
  const resourceNames = [...new Set(pods)].sort();
  const rules: V1PolicyRule[] = [
    ...permissionsFor(spec.access).map((p) => ({
      apiGroups: [''],
      resources: [p.subresource ? `pods/${p.subresource}` : 'pods'],
      verbs: [...p.verbs],
      resourceNames,
    })),
    // The subject may end this grant early (`kubectl debuggrant revoke`), and only this one.
    // The revocation policy (config/admission/revocation.yaml) lets such a patch change nothing
    // but the revocation annotations, and records the subject as the revoker.
    { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'patch'], resourceNames: [grant.name] },
  ];
  const metadata = {
    name: rbacName(grant.name),
    namespace: grant.namespace,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [GRANT_LABEL]: grant.name, [GRANT_UID_LABEL]: grant.uid },
    ownerReferences: [ownerRef(grant)],
  };
  return {
    role: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata, rules },
    binding: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: metadata.name },
      subjects: [rbacSubject(spec.subject)],
    },
  };
}

function ownerRef(grant: GrantRef): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: grant.name, uid: grant.uid, controller: true };
}

export function rbacSubject(s: Subject): RbacV1Subject {
  return s.kind === 'ServiceAccount'
    ? { kind: 'ServiceAccount', name: s.name, namespace: s.namespace }
    : { kind: s.kind, name: s.name, apiGroup: 'rbac.authorization.k8s.io' };
}

/** Whether what the cache holds already is what we want, so a no-op reconcile sends nothing. */
export function roleMatches(observed: CachedRole | undefined, desired: V1Role): boolean {
  return observed !== undefined && observed.rulesDigest === contentDigest(desired.rules ?? []) && labelsKept(observed, desired);
}

export function bindingMatches(observed: V1RoleBinding | undefined, desired: V1RoleBinding): boolean {
  return (
    observed !== undefined &&
    sameContent(observed.subjects ?? [], desired.subjects ?? []) &&
    sameContent(observed.roleRef, desired.roleRef) &&
    labelsKept(observed, desired) &&
    sameOwners(observed, desired)
  );
}

/**
 * The binding with one owner: the grant's timer Job (src/revocation/timer-job.ts), so the
 * garbage collector deletes it when the timer fires, or the grant when there is no timer.
 */
export function ownedBy(binding: V1RoleBinding, owner: V1OwnerReference): V1RoleBinding {
  return { ...binding, metadata: { ...binding.metadata, ownerReferences: [owner] } };
}

function sameOwners(observed: V1RoleBinding, desired: V1RoleBinding): boolean {
  const uids = (b: V1RoleBinding): string[] => (b.metadata?.ownerReferences ?? []).map((o) => o.uid).sort();
  return sameContent(uids(observed), uids(desired));
}

function labelsKept(observed: { metadata?: { labels?: Record<string, string> } }, desired: { metadata?: { labels?: Record<string, string> } }): boolean {
  return Object.entries(desired.metadata?.labels ?? {}).every(([k, v]) => observed.metadata?.labels?.[k] === v);
}
