// The per-namespace DebugGrantIndex: what the admission policy reads (active grants)
// and the operator's memory of grants that ended (so a re-applied copy cannot grant
// again). Only the operator may write it; pure functions here compute its next state.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { AccessKind } from './access.ts';
import { sameContent } from './equal.ts';
import type { Profile } from './schema.ts';
import type { GrantPhase } from './types.ts';
import { byCodeUnit } from './order.ts';

export interface ActiveGrantEntry {
  grant: string;
  uid: string;
  /** What request.userInfo.username is for this subject ('' for a Group). */
  username: string;
  /** The group a Group subject names ('' otherwise). */
  group: string;
  pods: string[];
  image: string;
  profile: Profile;
  /**
   * The access kinds the grant gives: the ephemeral-container policy admits a debug container
   * only under an entry that includes debug. Absent from entries an older operator wrote: the
   * policy reads that as no debug access until this operator rewrites the entry, which its
   * first reconcile of the grant (at start) does.
   */
  access?: AccessKind[];
  activatedAt: string;
  expiresAt: string;
}

export interface EndedGrantEntry {
  grant: string;
  uid: string;
  phase: GrantPhase;
  endedAt: string;
  /** For a grant that held access: when, until when (a lost status is restored from these). */
  activatedAt?: string;
  expiresAt?: string;
}

export interface DebugGrantIndex {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  active?: ActiveGrantEntry[];
  ended?: EndedGrantEntry[];
}

/**
 * The record of spent names of one namespace kept apart from its index: one object per
 * namespace (named after it) in the operator's own namespace, where only the operator may
 * write. Each copy of the ended records is restored from the other, so deleting either
 * (or the whole namespace) does not make a spent name usable again.
 */
export interface DebugGrantHistory {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  ended?: EndedGrantEntry[];
}

export interface IndexContent {
  active: ActiveGrantEntry[];
  ended: EndedGrantEntry[];
}

export const emptyIndex = (): IndexContent => ({ active: [], ended: [] });

export function contentOf(index: DebugGrantIndex | undefined): IndexContent {
  return { active: index?.active ?? [], ended: index?.ended ?? [] };
}

export type IndexChange =
  | { kind: 'upsert'; entry: ActiveGrantEntry }
  | ({ kind: 'end' } & EndedGrantEntry)
  | { kind: 'remove'; grant: string; uid: string }
  /** Ended records restored from the other copy (the history); kept as mergeEnded keeps them. */
  | { kind: 'remember'; ended: EndedGrantEntry[] };

/**
 * The index after one change, sorted so equal content serializes equally; ended records older
 * than `retentionMs` are dropped. Returns undefined when nothing changes (no write needed).
 */
export function applyIndexChange(current: IndexContent, change: IndexChange, now: Date, retentionMs: number): IndexContent | undefined {
  const keep = (e: { grant: string; uid: string }, name: string, uid: string): boolean => !(e.grant === name && e.uid === uid);
  let active = current.active;
  let ended = current.ended;
  switch (change.kind) {
    case 'upsert':
      active = [...active.filter((e) => e.grant !== change.entry.grant), change.entry];
      break;
    case 'end':
      active = active.filter((e) => keep(e, change.grant, change.uid));
      if (!ended.some((e) => e.grant === change.grant && e.uid === change.uid)) {
        const entry: EndedGrantEntry = { grant: change.grant, uid: change.uid, phase: change.phase, endedAt: change.endedAt };
        if (change.activatedAt && change.expiresAt) Object.assign(entry, { activatedAt: change.activatedAt, expiresAt: change.expiresAt });
        ended = [...ended.filter((e) => e.grant !== change.grant), entry];
      }
      break;
    case 'remove':
      active = active.filter((e) => keep(e, change.grant, change.uid));
      break;
    case 'remember':
      ended = mergeEnded(ended, change.ended);
      break;
  }
  const next = { active: sortByGrant(active), ended: sortByGrant(retained(ended, now, retentionMs)) };
  // Semantic comparison: what the API server returns has its keys in another order.
  return sameContent(next, { active: sortByGrant(current.active), ended: sortByGrant(current.ended) }) ? undefined : next;
}

/** The index after several changes, in order (one write for all); undefined when none changes anything. */
export function applyIndexChanges(current: IndexContent, changes: readonly IndexChange[], now: Date, retentionMs: number): IndexContent | undefined {
  let next: IndexContent | undefined;
  for (const change of changes) next = applyIndexChange(next ?? current, change, now, retentionMs) ?? next;
  return next;
}

/** Two copies of the ended records as one: per grant name the later end, sorted. */
export function mergeEnded(a: readonly EndedGrantEntry[], b: readonly EndedGrantEntry[]): EndedGrantEntry[] {
  const byGrant = new Map<string, EndedGrantEntry>();
  for (const e of [...a, ...b]) {
    const seen = byGrant.get(e.grant);
    if (!seen || Date.parse(e.endedAt) > Date.parse(seen.endedAt)) byGrant.set(e.grant, e);
  }
  return sortByGrant([...byGrant.values()]);
}

/** The ended records still within the retention (config.endedRetention). */
export function retained(ended: readonly EndedGrantEntry[], now: Date, retentionMs: number): EndedGrantEntry[] {
  const horizon = now.getTime() - retentionMs;
  return ended.filter((e) => Date.parse(e.endedAt) >= horizon);
}

function sortByGrant<T extends { grant: string }>(xs: readonly T[]): T[] {
  return [...xs].sort((a, b) => byCodeUnit(a.grant, b.grant));
}

/** This grant's own active entry: its deadline is on record here before any RBAC exists. */
export function activeRecord(content: IndexContent, grant: string, uid: string): ActiveGrantEntry | undefined {
  return content.active.find((e) => e.grant === grant && e.uid === uid);
}

export function endedRecord(content: IndexContent, grant: string): EndedGrantEntry | undefined {
  return content.ended.find((e) => e.grant === grant);
}
