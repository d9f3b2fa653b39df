// The DebugGrant object as the API server returns it. `spec` stays unknown until zod
// has parsed it: a grant in the cluster may predate today's rules.
import type { V1ObjectMeta } from '@kubernetes/client-node';

export const PHASES = ['Pending', 'Active', 'Expired', 'Revoked', 'Denied'] as const;
export type GrantPhase = (typeof PHASES)[number];
export const TERMINAL_PHASES: readonly GrantPhase[] = ['Expired', 'Revoked', 'Denied'];

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface LingeringContainer {
  pod: string;
  container: string;
  image: string;
  /** When the operator evicted the pod for `onExpiry: Evict`. */
  evictedAt?: string;
}

/**
 * One ephemeral container started under a grant, as the kubelet reported it
 * (src/controller/sessions.ts decides which grant a container belongs to).
 */
export interface SessionRecord {
  pod: string;
  container: string;
  image: string;
  /** The grant's profile (admission held the container to it). */
  profile?: string;
  /** The container whose process namespace it shares (`kubectl debug --target`). */
  target?: string;
  /** command and args, shell-quoted, cut at MAX_COMMAND characters. */
  command?: string;
  /** The kubelet's startedAt. */
  startedAt: string;
  /** The kubelet's finishedAt, once it terminated. */
  finishedAt?: string;
  exitCode?: number;
  /** Once it terminated: whether it ended by the grant's deadline (at most a few seconds after it). */
  endedByDeadline?: boolean;
}

export interface DebugGrantStatus {
  phase?: GrantPhase;
  activatedAt?: string;
  expiresAt?: string;
  endedAt?: string;
  pods?: string[];
  /** Who revoked it on request (their username, as the API server authenticated them). */
  revokedBy?: string;
  lingering?: LingeringContainer[];
  /** The most recent sessions (bounded: MAX_SESSIONS), oldest first. */
  sessions?: SessionRecord[];
  /** Every session ever recorded under this grant, including those the bound dropped. */
  sessionCount?: number;
  conditions?: Condition[];
  observedGeneration?: number;
}

export interface DebugGrant {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: unknown;
  status?: DebugGrantStatus;
}

export function isTerminal(phase: GrantPhase | undefined): boolean {
  return phase !== undefined && TERMINAL_PHASES.includes(phase);
}

/** Ended after it was (or, on record, may have been) granted: Expired or Revoked, never Denied. */
export function hasEnded(phase: GrantPhase | undefined): boolean {
  return phase === 'Expired' || phase === 'Revoked';
}
