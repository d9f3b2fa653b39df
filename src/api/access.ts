// What each kind of access in a grant needs from RBAC, on the granted pods only.
// Since Kubernetes 1.35 a WebSocket exec/attach/port-forward stream is authorized as
// `get` *and* `create` on the subresource, so both verbs are granted.
import { byCodeUnit } from './order.ts';
export const ACCESS_KINDS = ['debug', 'exec', 'attach', 'portForward', 'logs'] as const;
export type AccessKind = (typeof ACCESS_KINDS)[number];

export interface PodPermission {
  /** '' for the pod itself, else the subresource (ephemeralcontainers, exec, …). */
  subresource: string;
  verbs: readonly string[];
}

const STREAM = ['create', 'get'] as const;

export const ACCESS_PERMISSIONS: Readonly<Record<AccessKind, readonly PodPermission[]>> = {
  // kubectl debug: read the pod, add the ephemeral container, watch the pod until the container
  // runs (a watch with fieldSelector metadata.name=POD, which RBAC authorizes by resourceNames;
  // list when a watch-list is refused), attach to it (falls back to logs). Without list/watch
  // `kubectl debug -it` hangs after adding the container. The other flows only get the pod.
  debug: [
    { subresource: '', verbs: ['get', 'list', 'watch'] },
    { subresource: 'ephemeralcontainers', verbs: ['patch'] },
    { subresource: 'attach', verbs: STREAM },
    { subresource: 'log', verbs: ['get'] },
  ],
  exec: [
    { subresource: '', verbs: ['get'] },
    { subresource: 'exec', verbs: STREAM },
  ],
  attach: [
    { subresource: '', verbs: ['get'] },
    { subresource: 'attach', verbs: STREAM },
  ],
  portForward: [
    { subresource: '', verbs: ['get'] },
    { subresource: 'portforward', verbs: STREAM },
  ],
  logs: [
    { subresource: '', verbs: ['get'] },
    { subresource: 'log', verbs: ['get'] },
  ],
};

/** The union of permissions for a set of access kinds, one entry per subresource, verbs sorted. */
export function permissionsFor(access: readonly AccessKind[]): PodPermission[] {
  const bySub = new Map<string, Set<string>>();
  for (const kind of access) {
    for (const p of ACCESS_PERMISSIONS[kind]) {
      const verbs = bySub.get(p.subresource) ?? new Set<string>();
      for (const v of p.verbs) verbs.add(v);
      bySub.set(p.subresource, verbs);
    }
  }
  return [...bySub.entries()].sort(([a], [b]) => byCodeUnit(a, b)).map(([subresource, verbs]) => ({ subresource, verbs: [...verbs].sort() }));
}
