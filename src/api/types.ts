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

export interface DebugGrantStatus {
  phase?: GrantPhase;
  activatedAt?: string;
  expiresAt?: string;
  endedAt?: string;
  pods?: string[];
  /** Who revoked it on request (their username, as the API server authenticated them). */
  revokedBy?: string;
  lingering?: LingeringContainer[];
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
