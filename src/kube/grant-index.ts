// Reads and writes the per-namespace DebugGrantIndex with optimistic concurrency
// (optimistic-write.ts).
import { applyIndexChanges, contentOf, type DebugGrantIndex, type IndexChange } from '../api/grant-index.ts';
import { INDEX_KIND, INDEX_NAME, INDEX_PLURAL, MANAGED_BY, MANAGED_BY_LABEL } from '../api/names.ts';
import { API_VERSION, GROUP, VERSION } from '../api/schema.ts';
import { apiMessage, httpStatus, isConflict } from '../runtime/errors.ts';
import { readObject, writeOptimistically } from './optimistic-write.ts';
import type { KubeApi } from './client.ts';

const at = (namespace: string) => ({ group: GROUP, version: VERSION, plural: INDEX_PLURAL, namespace });

export const readIndex = (api: KubeApi, namespace: string): Promise<DebugGrantIndex | undefined> =>
  readObject<DebugGrantIndex>(api, { ...at(namespace), name: INDEX_NAME });

/** Creates an empty index; false when one exists already (it is never overwritten). */
export async function createIndexIfAbsent(api: KubeApi, namespace: string): Promise<boolean> {
  const body: DebugGrantIndex = {
    apiVersion: API_VERSION,
    kind: INDEX_KIND,
    metadata: { name: INDEX_NAME, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
    active: [],
    ended: [],
  };
  try {
    await api.custom.createNamespacedCustomObject({ ...at(namespace), body });
    return true;
  } catch (err) {
    if (isConflict(err)) return false;
    throw err;
  }
}

/** The NamespaceLifecycle admission plugin's refusal of anything new in a namespace being deleted. */
function namespaceTerminating(err: unknown): boolean {
  const refusal = err instanceof Error && err.cause !== undefined ? err.cause : err;
  return httpStatus(refusal) === 403 && apiMessage(refusal).includes('because it is being terminated');
}

/**
 * Applies one change, or several in order as one write, starting from `cached` when given
 * (saves a GET on the hot path). Returns the index as written, or as found when nothing needed writing.
 */
export async function changeIndex(
  api: KubeApi,
  namespace: string,
  change: IndexChange | readonly IndexChange[],
  now: Date,
  retentionMs: number,
  cached?: DebugGrantIndex,
): Promise<DebugGrantIndex | undefined> {
  try {
    return await writeOptimistically<DebugGrantIndex>(api, { ...at(namespace), name: INDEX_NAME }, cached, (current) => {
      const next = applyIndexChanges(contentOf(current), Array.isArray(change) ? change : [change], now, retentionMs);
      return (
        next && {
          apiVersion: API_VERSION,
          kind: INDEX_KIND,
          metadata: { name: INDEX_NAME, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
          ...next,
        }
      );
    });
  } catch (err) {
    // The namespace is being deleted and its index already went (only a create is refused
    // there): nothing can, or need, record a grant's end in it, and waiting for that would hold
    // the grant's finalizer, and so the namespace's deletion, forever.
    const changes: readonly IndexChange[] = Array.isArray(change) ? change : [change];
    if (changes.every((c) => c.kind !== 'upsert') && namespaceTerminating(err)) return undefined;
    throw err;
  }
}
