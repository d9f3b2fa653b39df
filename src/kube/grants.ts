// Writes to DebugGrants: status through the /status subresource, finalizers with narrow
// JSON patches that test resourceVersion, so a stale cache can never overwrite newer state.
import { FINALIZER, LEGACY_FINALIZER } from '../api/names.ts';
import { GROUP, PLURAL, VERSION } from '../api/schema.ts';
import type { DebugGrant, DebugGrantStatus } from '../api/types.ts';
import { isNotFoundStatus } from '../runtime/errors.ts';
import { jsonPatch, mergePatch, type KubeApi } from './client.ts';

const at = (g: DebugGrant) => ({ group: GROUP, version: VERSION, plural: PLURAL, namespace: g.metadata.namespace ?? '', name: g.metadata.name ?? '' });

export async function writeGrantStatus(api: KubeApi, grant: DebugGrant, status: DebugGrantStatus): Promise<DebugGrant> {
  // resourceVersion in a merge patch makes it conditional: 409 if the grant moved on.
  const body = { metadata: { resourceVersion: grant.metadata.resourceVersion }, status };
  return (await api.custom.patchNamespacedCustomObjectStatus({ ...at(grant), body }, mergePatch)) as DebugGrant;
}

/**
 * The grant's finalizers with ours in place (FINALIZER once, LEGACY_FINALIZER gone, everyone
 * else's kept in order), or undefined when they already are.
 */
export function ownFinalizers(finalizers: readonly string[] | undefined): string[] | undefined {
  const list = finalizers ?? [];
  if (list.includes(FINALIZER) && !list.includes(LEGACY_FINALIZER)) return undefined;
  return [...list.filter((f) => f !== FINALIZER && f !== LEGACY_FINALIZER), FINALIZER];
}

/** Whether the grant carries one of our finalizers (an older operator's counts: its deletion waits for us too). */
export const hasOurFinalizer = (grant: DebugGrant): boolean => (grant.metadata.finalizers ?? []).some((f) => f === FINALIZER || f === LEGACY_FINALIZER);

/** Puts our finalizer in place (ownFinalizers); a no-op when it is. */
export async function addFinalizer(api: KubeApi, grant: DebugGrant): Promise<DebugGrant> {
  const finalizers = ownFinalizers(grant.metadata.finalizers);
  if (!finalizers) return grant;
  return setFinalizers(api, grant, finalizers);
}

/** Takes our finalizers off (both names), once the grant's access is gone. */
export async function removeFinalizer(api: KubeApi, grant: DebugGrant): Promise<void> {
  if (!hasOurFinalizer(grant)) return;
  try {
    await setFinalizers(
      api,
      grant,
      (grant.metadata.finalizers ?? []).filter((f) => f !== FINALIZER && f !== LEGACY_FINALIZER),
    );
  } catch (err) {
    if (!isNotFoundStatus(err, PLURAL)) throw err;
  }
}

/** The whole list in one JSON patch that tests resourceVersion: a finalizer another writer added meanwhile is never lost (409). */
async function setFinalizers(api: KubeApi, grant: DebugGrant, finalizers: string[]): Promise<DebugGrant> {
  const body = [
    { op: 'test', path: '/metadata/resourceVersion', value: grant.metadata.resourceVersion },
    { op: 'add', path: '/metadata/finalizers', value: finalizers },
  ];
  return (await api.custom.patchNamespacedCustomObject({ ...at(grant), body }, jsonPatch)) as DebugGrant;
}
