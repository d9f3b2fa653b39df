// Reads and small writes the CLI needs: grants, who the caller is, RBAC for the audit.
import type { V1ClusterRole, V1ClusterRoleBinding, V1Role, V1RoleBinding } from '@kubernetes/client-node';
import { REVOKE_ANNOTATION } from '../api/names.ts';
import { GROUP, PLURAL, VERSION } from '../api/schema.ts';
import type { DebugGrant } from '../api/types.ts';
import type { KubeApi } from './client.ts';
import { mergePatch } from './client.ts';
import * as k8s from '@kubernetes/client-node';

export async function listGrants(api: KubeApi, namespace?: string): Promise<DebugGrant[]> {
  const res = (namespace
    ? await api.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace })
    : await api.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items?: DebugGrant[] };
  return res.items ?? [];
}

export async function requestRevocation(api: KubeApi, namespace: string, name: string, note: string): Promise<void> {
  await api.custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, body: { metadata: { annotations: { [REVOKE_ANNOTATION]: note } } } },
    mergePatch,
  );
}

export interface Identity { username: string; groups: string[] }

/** Who the API server thinks the caller is (SelfSubjectReview). */
export async function whoAmI(api: KubeApi): Promise<Identity> {
  const review = await api.kc.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  return { username: review.status?.userInfo?.username ?? '', groups: review.status?.userInfo?.groups ?? [] };
}

export interface RbacSnapshot {
  roles: V1Role[];
  clusterRoles: V1ClusterRole[];
  roleBindings: V1RoleBinding[];
  clusterRoleBindings: V1ClusterRoleBinding[];
}

export async function readRbac(api: KubeApi): Promise<RbacSnapshot> {
  const [roles, clusterRoles, roleBindings, clusterRoleBindings] = await Promise.all([
    api.rbac.listRoleForAllNamespaces(), api.rbac.listClusterRole(),
    api.rbac.listRoleBindingForAllNamespaces(), api.rbac.listClusterRoleBinding(),
  ]);
  return { roles: roles.items, clusterRoles: clusterRoles.items, roleBindings: roleBindings.items, clusterRoleBindings: clusterRoleBindings.items };
}
