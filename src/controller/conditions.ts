// Status conditions in the Kubernetes shape: lastTransitionTime moves only when the
// status flips, and every condition says which generation it describes: every write stamps
// all of them with the generation the writer observed (kstatus and `kubectl wait` compare it
// with metadata.generation), including those it kept unchanged.
import type { Condition, ConditionStatus } from '../api/types.ts';
import { byCodeUnit } from '../api/order.ts';

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

export function setConditions(previous: readonly Condition[] | undefined, next: readonly ConditionInput[], generation: number, now: Date): Condition[] {
  const byType = new Map((previous ?? []).map((c) => [c.type, { ...c, observedGeneration: generation }]));
  for (const c of next) {
    const old = byType.get(c.type);
    byType.set(c.type, {
      ...c,
      lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now.toISOString(),
      observedGeneration: generation,
    });
  }
  return [...byType.values()].sort((a, b) => byCodeUnit(a.type, b.type));
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
