// Reads and writes the per-namespace DebugGrantIndex with optimistic concurrency:
// read, change, replace with the resourceVersion read; on a conflict, read again.
import { applyIndexChange, contentOf, type DebugGrantIndex, type IndexChange } from '../api/grant-index.ts';
import { INDEX_KIND, INDEX_NAME, INDEX_PLURAL, MANAGED_BY, MANAGED_BY_LABEL } from '../api/names.ts';
import { API_VERSION, GROUP, VERSION } from '../api/schema.ts';
import { isConflict, isNotFound } from '../runtime/errors.ts';
import type { KubeApi } from './client.ts';

const at = (namespace: string) => ({ group: GROUP, version: VERSION, plural: INDEX_PLURAL, namespace });

export async function readIndex(api: KubeApi, namespace: string): Promise<DebugGrantIndex | undefined> {
  try {
    return (await api.custom.getNamespacedCustomObject({ ...at(namespace), name: INDEX_NAME })) as DebugGrantIndex;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Creates an empty index; false when one exists already (it is never overwritten). */
export async function createIndexIfAbsent(api: KubeApi, namespace: string): Promise<boolean> {
  const body: DebugGrantIndex = {
    apiVersion: API_VERSION, kind: INDEX_KIND,
    metadata: { name: INDEX_NAME, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
    active: [], ended: [],
  };
  try {
    await api.custom.createNamespacedCustomObject({ ...at(namespace), body });
    return true;
  } catch (err) {
    if (isConflict(err)) return false;
    throw err;
  }
}

/**
 * Applies one change, starting from `cached` when given (saves a GET on the hot path).
 * Returns the index as written, or as found when nothing needed writing.
 */
export async function changeIndex(
  api: KubeApi, namespace: string, change: IndexChange, now: Date, retentionMs: number, cached?: DebugGrantIndex,
): Promise<DebugGrantIndex | undefined> {
  let current = cached;
  for (let attempt = 0; ; attempt++) {
    const next = applyIndexChange(contentOf(current), change, now, retentionMs);
    if (!next) return current;
    const body: DebugGrantIndex = {
      apiVersion: API_VERSION,
      kind: INDEX_KIND,
      metadata: { name: INDEX_NAME, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY }, resourceVersion: current?.metadata.resourceVersion },
      ...next,
    };
    try {
      return (current
        ? await api.custom.replaceNamespacedCustomObject({ ...at(namespace), name: INDEX_NAME, body })
        : await api.custom.createNamespacedCustomObject({ ...at(namespace), body })) as DebugGrantIndex;
    } catch (err) {
      // Deleted meanwhile (by hand): create it afresh.
      if (current && isNotFound(err) && attempt < 8) {
        current = undefined;
        continue;
      }
      // 409 is both "changed since read" and "created by someone meanwhile".
      if (!isConflict(err) || attempt >= 8) throw new Error(`updating ${namespace}/${INDEX_NAME} index failed`, { cause: err });
      current = await readIndex(api, namespace);
    }
  }
}
