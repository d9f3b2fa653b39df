// Ephemeral containers cannot be removed from a pod. What the operator can do is notice
// the ones still running where no active grant covers the pod, and say so loudly.
import type { CachedPod } from '../../kube/cached.ts';
import type { DebugGrant } from '../../api/types.ts';

export interface RunningEphemeral {
  container: string;
  image: string;
}

/** Ephemeral containers the kubelet reports as running (status, not spec: a spec entry may never start). */
export function runningEphemeralContainers(pod: CachedPod): RunningEphemeral[] {
  const images = new Map((pod.spec?.ephemeralContainers ?? []).map((c) => [c.name, c.image ?? '']));
  return (pod.status?.ephemeralContainerStatuses ?? [])
    .filter((s) => s.state?.running !== undefined)
    .map((s) => ({ container: s.name, image: images.get(s.name) ?? s.image }))
    .sort((a, b) => a.container.localeCompare(b.container));
}

/** The annotation value naming lingering containers, or null when there are none. */
export function lingeringAnnotation(lingering: readonly RunningEphemeral[]): string | null {
  return lingering.length === 0 ? null : lingering.map((l) => `${l.container}=${l.image}`).join(',');
}

export function hasController(pod: CachedPod): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((o) => o.controller === true);
}

/** Pods an Active grant covers right now: ephemeral containers there are sanctioned. */
export function coveredPods(grants: readonly DebugGrant[]): Set<string> {
  return new Set(grants.filter((g) => g.status?.phase === 'Active').flatMap((g) => g.status?.pods ?? []));
}

/**
 * The one definition of lingering: ephemeral containers running on a pod no Active grant
 * covers. The pod's reconciler flags them (annotation, Event, one audit line per container);
 * an ended grant's status records those on its pods.
 */
export function lingeringOn(pod: CachedPod, covered: ReadonlySet<string>): RunningEphemeral[] {
  return covered.has(pod.metadata?.name ?? '') ? [] : runningEphemeralContainers(pod);
}

/** Containers named in a lingering annotation value (what was flagged before). */
export function flaggedContainers(annotation: string | null | undefined): Set<string> {
  return new Set((annotation ?? '').split(',').filter(Boolean).map((pair) => pair.split('=')[0] ?? ''));
}
