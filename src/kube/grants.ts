// Writes to DebugGrants: status through the /status subresource, finalizers with narrow
// JSON patches that test resourceVersion, so a stale cache can never overwrite newer state.
import { FINALIZER } from '../api/names.ts';
import { GROUP, PLURAL, VERSION } from '../api/schema.ts';
import type { DebugGrant, DebugGrantStatus } from '../api/types.ts';
import { isNotFound } from '../runtime/errors.ts';
import { jsonPatch, mergePatch, type KubeApi } from './client.ts';

const at = (g: DebugGrant) => ({ group: GROUP, version: VERSION, plural: PLURAL, namespace: g.metadata.namespace ?? '', name: g.metadata.name ?? '' });

export async function writeGrantStatus(api: KubeApi, grant: DebugGrant, status: DebugGrantStatus): Promise<DebugGrant> {
  // resourceVersion in a merge patch makes it conditional: 409 if the grant moved on.
  const body = { metadata: { resourceVersion: grant.metadata.resourceVersion }, status };
  return (await api.custom.patchNamespacedCustomObjectStatus({ ...at(grant), body }, mergePatch)) as DebugGrant;
}

export async function addFinalizer(api: KubeApi, grant: DebugGrant): Promise<DebugGrant> {
  const finalizers = grant.metadata.finalizers;
  const body = [
    { op: 'test', path: '/metadata/resourceVersion', value: grant.metadata.resourceVersion },
    finalizers ? { op: 'add', path: '/metadata/finalizers/-', value: FINALIZER } : { op: 'add', path: '/metadata/finalizers', value: [FINALIZER] },
  ];
  return (await api.custom.patchNamespacedCustomObject({ ...at(grant), body }, jsonPatch)) as DebugGrant;
}

export async function removeFinalizer(api: KubeApi, grant: DebugGrant): Promise<void> {
  const index = (grant.metadata.finalizers ?? []).indexOf(FINALIZER);
  if (index < 0) return;
  const body = [
    { op: 'test', path: '/metadata/resourceVersion', value: grant.metadata.resourceVersion },
    { op: 'remove', path: `/metadata/finalizers/${String(index)}` },
  ];
  try {
    await api.custom.patchNamespacedCustomObject({ ...at(grant), body }, jsonPatch);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
