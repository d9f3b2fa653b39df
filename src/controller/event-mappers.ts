// What an observed change means for the work queues: which grants to reconcile, which pods to
// re-check, which deadlines to arm. Pure (or remembering only the last observation), so each
// mapping is unit-tested on its own; operator.ts only wires informers to these.
import type { ActiveGrantEntry, DebugGrantIndex } from '../api/grant-index.ts';
import { contentDigest } from '../api/equal.ts';
import { GRANT_LABEL, LINGERING_ANNOTATION } from '../api/names.ts';
import { DebugGrantSpecSchema, type PodSelector } from '../api/schema.ts';
import type { CachedPod, CachedRole, CachedRoleBinding, CachedTimer } from '../kube/cached.ts';
import type { DebugGrant } from '../api/types.ts';
import { selectorMatches } from './selector.ts';

export type WatchEvent = 'add' | 'update' | 'delete';

interface WatchedGrant {
  phase: string | undefined;
  pods: string[];
  /** Undefined when the spec does not parse (the grant is or will be Denied). */
  selector: PodSelector | undefined;
}

/**
 * What pod events need of each grant, per namespace: its phase, pods and selector (parsed once
 * per grant event, so a pod event costs only the grants of its namespace).
 */
export class WatchedGrants {
  private readonly byNamespace = new Map<string, Map<string, WatchedGrant>>();

  /**
   * Remembers this observation of a grant. Returns the pods (names) to re-check for lingering
   * containers: whether they are sanctioned depends on which Active grants list them, so when
   * a grant's phase or pods change, the pods it lists now and listed before.
   */
  observe(grant: DebugGrant, event: WatchEvent): string[] {
    const namespace = grant.metadata.namespace ?? '';
    const name = grant.metadata.name ?? '';
    let grants = this.byNamespace.get(namespace);
    const before = grants?.get(name);
    const after = event === 'delete' ? undefined : watched(grant);
    if (after) {
      if (!grants) {
        grants = new Map();
        this.byNamespace.set(namespace, grants);
      }
      grants.set(name, after);
    } else if (grants?.delete(name) && grants.size === 0) {
      this.byNamespace.delete(namespace);
    }
    const podsBefore = before?.pods ?? [];
    const podsAfter = after?.pods ?? [];
    if (before && after && before.phase === after.phase && podsBefore.join() === podsAfter.join()) return [];
    return [...new Set([...podsBefore, ...podsAfter])];
  }

  /** Grants (names) a change of this pod concerns: those that list it, or (unless Denied) whose selector matches it. */
  concerning(namespace: string, pod: string, labels: Record<string, string> | undefined): string[] {
    const found: string[] = [];
    for (const [name, g] of this.byNamespace.get(namespace) ?? []) {
      if (g.phase === 'Denied') continue;
      if (g.pods.includes(pod) || (g.selector && selectorMatches(g.selector, labels))) found.push(name);
    }
    return found;
  }
}

function watched(g: DebugGrant): WatchedGrant {
  const spec = DebugGrantSpecSchema.safeParse(g.spec);
  return { phase: g.status?.phase, pods: g.status?.pods ?? [], selector: spec.success ? spec.data.podSelector : undefined };
}

/** The deadline an observed grant's status records, while it is Active. */
export function activeStatusDeadline(grant: DebugGrant, event: WatchEvent): number | undefined {
  return event !== 'delete' && grant.status?.phase === 'Active' && grant.status.expiresAt ? Date.parse(grant.status.expiresAt) : undefined;
}

/** The grant (name) a Role, RoleBinding or timer Job we own belongs to, by its label. */
export function owningGrant(o: CachedRole | CachedRoleBinding | CachedTimer): string | undefined {
  return o.metadata?.labels?.[GRANT_LABEL];
}

/**
 * Only grants whose index entry changed need a look (a hand edit, or our own write echoing
 * back): re-checking every grant of the namespace on each write would be quadratic.
 */
export class IndexEntryChanges {
  private readonly last = new Map<string, Map<string, string>>();

  /** Grant names whose entry (active or ended) differs from the last observation, and the changed active entries. */
  observe(namespace: string, index: DebugGrantIndex, event: WatchEvent): { changed: Set<string>; activeChanged: ActiveGrantEntry[] } {
    const before = this.last.get(namespace) ?? new Map<string, string>();
    const after = event === 'delete' ? new Map<string, string>() : entriesByGrant(index);
    this.last.set(namespace, after);
    const changed = new Set([...before.keys(), ...after.keys()].filter((name) => before.get(name) !== after.get(name)));
    const activeChanged = event === 'delete' ? [] : (index.active ?? []).filter((e) => changed.has(e.grant));
    return { changed, activeChanged };
  }
}

/** Each entry as a digest (22 characters, not the ~350 of its JSON: one per grant the index holds). */
function entriesByGrant(i: DebugGrantIndex): Map<string, string> {
  return new Map([...(i.active ?? []), ...(i.ended ?? [])].map((e) => [e.grant, contentDigest(e)]));
}

/** Only pods with ephemeral containers, or our flag to take down, can need the lingering check. */
export function mayLinger(pod: CachedPod): boolean {
  return (pod.status?.ephemeralContainerStatuses ?? []).length > 0 || pod.metadata?.annotations?.[LINGERING_ANNOTATION] !== undefined;
}
