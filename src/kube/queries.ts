// Reads and small writes the CLI needs: grants, who the caller is, RBAC for the audit.
import type { V1ClusterRole, V1ClusterRoleBinding, V1Role, V1RoleBinding } from '@kubernetes/client-node';
import { REVOKED_BY_ANNOTATION, REVOKE_ANNOTATION } from '../api/names.ts';
import { GROUP, PLURAL, VERSION } from '../api/schema.ts';
import type { DebugGrant } from '../api/types.ts';
import type { KubeApi } from './client.ts';
import { mergePatch } from './client.ts';

export async function listGrants(api: KubeApi, namespace?: string, labelSelector?: string): Promise<DebugGrant[]> {
  const res = (
    namespace
      ? await api.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, labelSelector })
      : await api.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, labelSelector })
  ) as { items?: DebugGrant[] };
  return res.items ?? [];
}

export async function getGrant(api: KubeApi, namespace: string, name: string): Promise<DebugGrant> {
  return (await api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name })) as DebugGrant;
}

/**
 * Asks the operator to end a grant now. `revokedBy` must be the caller's own username: an
 * admission policy (config/admission/revocation.yaml) refuses any other, so the record of
 * who revoked is the API server's word. The resourceVersion makes the patch conditional.
 */
export async function requestRevocation(api: KubeApi, grant: DebugGrant, revokedBy: string, reason: string): Promise<DebugGrant> {
  const body = {
    metadata: { resourceVersion: grant.metadata.resourceVersion, annotations: { [REVOKE_ANNOTATION]: reason, [REVOKED_BY_ANNOTATION]: revokedBy } },
  };
  return (await api.custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, plural: PLURAL, namespace: grant.metadata.namespace ?? '', name: grant.metadata.name ?? '', body },
    mergePatch,
  )) as DebugGrant;
}

export interface Identity {
  username: string;
  groups: string[];
}

/** Who the API server thinks the caller is (SelfSubjectReview). */
export async function whoAmI(api: KubeApi): Promise<Identity> {
  const review = await api.authn.createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  return { username: review.status?.userInfo?.username ?? '', groups: review.status?.userInfo?.groups ?? [] };
}

/** The API server's version (GET /version, readable by every authenticated user). */
export async function serverVersion(api: KubeApi): Promise<string> {
  return (await api.version.getCode()).gitVersion;
}

/** The operator's Deployments in `namespace` and the images they run. */
export async function operatorDeployments(api: KubeApi, namespace: string): Promise<{ name: string; version: string; images: string[]; ready: number }[]> {
  const list = await api.apps.listNamespacedDeployment({ namespace, labelSelector: 'app.kubernetes.io/name in (debuggrant, debuggrant-operator)' });
  return list.items.map((d) => ({
    name: d.metadata?.name ?? '',
    version: d.metadata?.labels?.['app.kubernetes.io/version'] ?? '',
    images: (d.spec?.template.spec?.containers ?? []).map((c) => c.image ?? ''),
    ready: d.status?.readyReplicas ?? 0,
  }));
}

export interface RbacSnapshot {
  roles: V1Role[];
  clusterRoles: V1ClusterRole[];
  roleBindings: V1RoleBinding[];
  clusterRoleBindings: V1ClusterRoleBinding[];
}

export async function readRbac(api: KubeApi): Promise<RbacSnapshot> {
  const [roles, clusterRoles, roleBindings, clusterRoleBindings] = await Promise.all([
    api.rbac.listRoleForAllNamespaces(),
    api.rbac.listClusterRole(),
    api.rbac.listRoleBindingForAllNamespaces(),
    api.rbac.listClusterRoleBinding(),
  ]);
  return { roles: roles.items, clusterRoles: clusterRoles.items, roleBindings: roleBindings.items, clusterRoleBindings: clusterRoleBindings.items };
}
