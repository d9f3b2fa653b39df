// Creates, repairs and removes a grant's Role and RoleBinding. Server-side apply with
// force: the operator owns these objects outright, so hand edits are overwritten.
import type { V1Role, V1RoleBinding } from '@kubernetes/client-node';
import { FIELD_MANAGER } from '../api/names.ts';
import { apiMessage, httpStatus, isNotFoundStatus } from '../runtime/errors.ts';
import { applyPatch, type CallOptions, type KubeApi } from './client.ts';

/** `options`: per-call request options (e.g. `api.connection.until(deadline, now)`), merged with the apply content type. */
export async function applyRole(api: KubeApi, role: V1Role, options?: CallOptions): Promise<void> {
  const { name = '', namespace = '' } = role.metadata ?? {};
  await api.rbac.patchNamespacedRole({ name, namespace, body: role, fieldManager: FIELD_MANAGER, force: true }, applyPatch(options));
}

/**
 * The words of config/admission/rbac-deadline.yaml when the namespace's index has no active
 * entry for the binding's grant.
 */
export const NO_ACTIVE_ENTRY = "has no active entry in this namespace's DebugGrantIndex";
/**
 * The policy reads the index from the API server's own cache, which may trail the entry (or
 * the whole index) the operator has just written by some milliseconds: such a refusal is worth
 * asking again shortly (the caller's retry: src/controller/rbac-writer.ts).
 */
export function refusedForIndexLag(err: unknown): boolean {
  const code = httpStatus(err);
  const message = code === 403 || code === 422 ? apiMessage(err) : '';
  return message.includes(NO_ACTIVE_ENTRY) || message.includes('no params found for policy binding');
}

export async function applyRoleBinding(api: KubeApi, binding: V1RoleBinding, options?: CallOptions): Promise<void> {
  const { name = '', namespace = '' } = binding.metadata ?? {};
  const apply = () => api.rbac.patchNamespacedRoleBinding({ name, namespace, body: binding, fieldManager: FIELD_MANAGER, force: true }, applyPatch(options));
  try {
    await apply();
  } catch (err) {
    // roleRef is immutable: a binding re-pointed by hand must be replaced, not patched.
    if (httpStatus(err) !== 422 || refusedForIndexLag(err)) throw err;
    await deleteRoleBinding(api, namespace, name);
    await apply();
  }
}

export async function deleteRoleBinding(api: KubeApi, namespace: string, name: string, options?: CallOptions): Promise<boolean> {
  return ignoreNotFound(api.rbac.deleteNamespacedRoleBinding({ namespace, name }, options), 'rolebindings');
}

export async function deleteRole(api: KubeApi, namespace: string, name: string): Promise<boolean> {
  return ignoreNotFound(api.rbac.deleteNamespacedRole({ namespace, name }), 'roles');
}

/**
 * True when something was deleted, false when the API server says it was already gone. Any
 * other 404 (a proxy's page: nothing reached the API server) is thrown: a temporary error,
 * retried (runtime/errors.ts), never read as gone.
 */
async function ignoreNotFound(p: Promise<unknown>, resource: string): Promise<boolean> {
  try {
    await p;
    return true;
  } catch (err) {
    if (isNotFoundStatus(err, resource)) return false;
    throw err;
  }
}
