// The operator's writes to pods: the lingering annotation and evictions.
import { LINGERING_ANNOTATION } from '../api/names.ts';
import { isNotFound } from '../runtime/errors.ts';
import { mergePatch, type KubeApi } from './client.ts';

export async function setLingeringAnnotation(api: KubeApi, namespace: string, name: string, value: string | null): Promise<void> {
  try {
    await api.core.patchNamespacedPod({ namespace, name, body: { metadata: { annotations: { [LINGERING_ANNOTATION]: value } } } }, mergePatch);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Through the Eviction API, so PodDisruptionBudgets are honoured (429 while a PDB forbids it). */
export async function evictPod(api: KubeApi, namespace: string, name: string): Promise<void> {
  await api.core.createNamespacedPodEviction({
    namespace, name,
    body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
  });
}
