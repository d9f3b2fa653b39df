// The operator's writes to pods (the lingering and sessions annotations, evictions), and the
// finished pods it does not watch.
import { LINGERING_ANNOTATION } from '../api/names.ts';
import { isNotFoundStatus } from '../runtime/errors.ts';
import { cachedPodMetadata, type CachedPod } from './cached.ts';
import { mergePatch, type KubeApi } from './client.ts';
import { listPage } from './list-watch.ts';

export async function setLingeringAnnotation(api: KubeApi, namespace: string, name: string, value: string | null): Promise<void> {
  await setPodAnnotation(api, namespace, name, LINGERING_ANNOTATION, value);
}

/** Sets (null: removes) one of our annotations on a pod; a pod that is gone needs none. */
export async function setPodAnnotation(api: KubeApi, namespace: string, name: string, key: string, value: string | null): Promise<void> {
  try {
    await api.core.patchNamespacedPod({ namespace, name, body: { metadata: { annotations: { [key]: value } } } }, mergePatch);
  } catch (err) {
    if (!isNotFoundStatus(err, 'pods')) throw err;
  }
}

/** Through the Eviction API, so PodDisruptionBudgets are honoured (429 while a PDB forbids it). */
export async function evictPod(api: KubeApi, namespace: string, name: string): Promise<void> {
  await api.core.createNamespacedPodEviction({
    namespace,
    name,
    body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
  });
}

/** A page of finished pods as metadata: small (no spec, no status), so a sweep holds one page at a time. */
const FINISHED_PAGE = 500;

/**
 * Every finished pod (Succeeded, then Failed) in `namespace` (every namespace when undefined),
 * as metadata, one page at a time: each page is handed to `each` and not kept. The pod informer
 * watches unfinished pods only (informers.ts); this finds the finished ones without caching them.
 */
export async function eachFinishedPodPage(
  api: KubeApi,
  namespace: string | undefined,
  each: (pods: CachedPod[]) => void,
  limit = FINISHED_PAGE,
): Promise<void> {
  const path = namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods` : '/api/v1/pods';
  for (const phase of ['Succeeded', 'Failed']) {
    let continueToken: string | undefined;
    do {
      const page = await listPage(api.connection, path, { limit, continueToken, fieldSelector: `status.phase=${phase}`, metadataOnly: true });
      each(page.items.map(cachedPodMetadata));
      continueToken = page.continueToken;
    } while (continueToken);
  }
}
