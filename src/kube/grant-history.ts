// Writes the record of spent grant names of one namespace (a DebugGrantHistory in the
// operator's own namespace): what is stored merged with what is added, with optimistic
// concurrency (optimistic-write.ts).
import { mergeEnded, retained, type DebugGrantHistory, type EndedGrantEntry } from '../api/grant-index.ts';
import { sameContent } from '../api/equal.ts';
import { HISTORY_KIND, HISTORY_PLURAL, MANAGED_BY, MANAGED_BY_LABEL } from '../api/names.ts';
import { API_VERSION, GROUP, VERSION } from '../api/schema.ts';
import type { KubeApi } from './client.ts';
import { writeOptimistically } from './optimistic-write.ts';

/**
 * Adds `ended` to the history of `namespace` kept in `home`, starting from `cached` when given.
 * Returns the history as written, or as found when it already held all of it.
 */
export function rememberEnded(
  api: KubeApi,
  home: string,
  namespace: string,
  ended: readonly EndedGrantEntry[],
  now: Date,
  retentionMs: number,
  cached?: DebugGrantHistory,
): Promise<DebugGrantHistory | undefined> {
  const at = { group: GROUP, version: VERSION, plural: HISTORY_PLURAL, namespace: home, name: namespace };
  return writeOptimistically<DebugGrantHistory>(api, at, cached, (current) => {
    const next = retained(mergeEnded(current?.ended ?? [], ended), now, retentionMs);
    if (current && sameContent(next, mergeEnded(current.ended ?? [], []))) return undefined;
    return {
      apiVersion: API_VERSION,
      kind: HISTORY_KIND,
      metadata: { name: namespace, namespace: home, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
      ended: next,
    };
  });
}
