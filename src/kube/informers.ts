// List+watch sources for what the operator observes: its grants and indexes, the pods
// grants select, and the Roles/RoleBindings it owns (selected by label).
import * as k8s from '@kubernetes/client-node';
import type { DebugGrantIndex } from '../api/grant-index.ts';
import { INDEX_PLURAL, MANAGED_BY, MANAGED_BY_LABEL } from '../api/names.ts';
import { GROUP, PLURAL, VERSION } from '../api/schema.ts';
import type { DebugGrant } from '../api/types.ts';
import type { KubeApi } from './client.ts';

const managedSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

function scoped(prefix: string, resource: string, namespace: string | undefined): string {
  return namespace ? `${prefix}/namespaces/${namespace}/${resource}` : `${prefix}/${resource}`;
}

function customListWatch<T extends k8s.KubernetesObject>(api: KubeApi, plural: string, namespace: string | undefined): k8s.ListWatch<T> {
  const list = async (): Promise<k8s.KubernetesListObject<T>> => {
    const res: unknown = namespace
      ? await api.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })
      : await api.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural });
    return res as k8s.KubernetesListObject<T>;
  };
  return new k8s.ListWatch<T>(scoped(`/apis/${GROUP}/${VERSION}`, plural, namespace), api.watch, list, false);
}

export const grantSource = (api: KubeApi, ns?: string): k8s.ListWatch<DebugGrant & k8s.KubernetesObject> =>
  customListWatch(api, PLURAL, ns);

export const indexSource = (api: KubeApi, ns?: string): k8s.ListWatch<DebugGrantIndex & k8s.KubernetesObject> =>
  customListWatch(api, INDEX_PLURAL, ns);

export function podSource(api: KubeApi, namespace?: string): k8s.ListWatch<k8s.V1Pod> {
  const list = () => namespace ? api.core.listNamespacedPod({ namespace }) : api.core.listPodForAllNamespaces();
  return new k8s.ListWatch(scoped('/api/v1', 'pods', namespace), api.watch, list, false);
}

export function roleSource(api: KubeApi, namespace?: string): k8s.ListWatch<k8s.V1Role> {
  const list = () => namespace
    ? api.rbac.listNamespacedRole({ namespace, labelSelector: managedSelector })
    : api.rbac.listRoleForAllNamespaces({ labelSelector: managedSelector });
  return new k8s.ListWatch(scoped('/apis/rbac.authorization.k8s.io/v1', 'roles', namespace), api.watch, list, false, managedSelector);
}

export function roleBindingSource(api: KubeApi, namespace?: string): k8s.ListWatch<k8s.V1RoleBinding> {
  const list = () => namespace
    ? api.rbac.listNamespacedRoleBinding({ namespace, labelSelector: managedSelector })
    : api.rbac.listRoleBindingForAllNamespaces({ labelSelector: managedSelector });
  return new k8s.ListWatch(scoped('/apis/rbac.authorization.k8s.io/v1', 'rolebindings', namespace), api.watch, list, false, managedSelector);
}
