// One object the operator alone writes, changed with optimistic concurrency: compute the
// next body from the copy we have, replace it with that copy's resourceVersion (or create
// it), and on a conflict read it again and start over.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { isConflict, isNotFoundStatus } from '../runtime/errors.ts';
import type { KubeApi } from './client.ts';

export interface CustomObjectAt {
  group: string;
  version: string;
  plural: string;
  namespace: string;
  name: string;
}

/**
 * `next(current)` gives the body to write, or undefined when `current` needs no write.
 * Returns the object as written, or as found when nothing needed writing.
 */
export async function writeOptimistically<T extends { metadata: V1ObjectMeta }>(
  api: KubeApi,
  at: CustomObjectAt,
  cached: T | undefined,
  next: (current: T | undefined) => T | undefined,
): Promise<T | undefined> {
  const { name, ...collection } = at;
  let current = cached;
  for (let attempt = 0; ; attempt++) {
    const body = next(current);
    if (!body) return current;
    body.metadata = { ...body.metadata, resourceVersion: current?.metadata.resourceVersion };
    try {
      return (
        current
          ? await api.custom.replaceNamespacedCustomObject({ ...collection, name, body })
          : await api.custom.createNamespacedCustomObject({ ...collection, body })
      ) as T;
    } catch (err) {
      // Deleted meanwhile (by hand): create it afresh.
      if (current && isNotFoundStatus(err, at.plural) && attempt < 8) {
        current = undefined;
        continue;
      }
      // 409 is both "changed since read" and "created by someone meanwhile".
      if (!isConflict(err) || attempt >= 8) throw new Error(`updating ${at.plural} ${at.namespace}/${name} failed`, { cause: err });
      current = await readObject<T>(api, at);
    }
  }
}

export async function readObject<T>(api: KubeApi, at: CustomObjectAt): Promise<T | undefined> {
  try {
    return (await api.custom.getNamespacedCustomObject(at)) as T;
  } catch (err) {
    if (isNotFoundStatus(err, at.plural)) return undefined;
    throw err;
  }
}
