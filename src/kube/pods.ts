// The operator's writes to pods: the lingering and sessions annotations, and evictions.
import { LINGERING_ANNOTATION } from '../api/names.ts';
import { isNotFoundStatus } from '../runtime/errors.ts';
import { mergePatch, type KubeApi } from './client.ts';

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
