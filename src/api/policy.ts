// Rules that depend on the operator's configuration rather than on the API alone.
// The CRD cannot know the approved registries or this cluster's maximum ttl.
import type { OperatorConfig } from '../config.ts';
import { formatDuration, parseDuration } from './duration.ts';
import type { DebugGrantSpec } from './schema.ts';

export function grantPolicyProblems(spec: DebugGrantSpec, config: OperatorConfig): string[] {
  const problems: string[] = [];
  if (!config.approvedRegistries.some((prefix) => spec.image.startsWith(prefix))) {
    problems.push(`spec.image: ${spec.image.split('@')[0] ?? spec.image} is not from an approved registry (${config.approvedRegistries.join(', ')})`);
  }
  const ttl = parseDuration(spec.ttl) ?? 0;
  const max = parseDuration(config.maxTtl) ?? 0;
  if (ttl > max) {
    problems.push(`spec.ttl: ${spec.ttl} is longer than this cluster's maximum of ${formatDuration(max)}; ask for less and open a new grant if you need more`);
  }
  if (!config.allowedProfiles.includes(spec.profile)) {
    problems.push(`spec.profile: ${spec.profile} is not allowed here (allowed: ${config.allowedProfiles.join(', ')})`);
  }
  return problems;
}

/**
 * Why a grant in `namespace` is never served, or undefined: the operator's own namespace and the
 * system ones are reserved (the grant-creation policy refuses them; planGrant denies one that got in).
 */
export function reservedNamespaceProblem(namespace: string, reserved: readonly string[]): string | undefined {
  if (!reserved.includes(namespace)) return undefined;
  return `${namespace} is a reserved namespace (${reserved.join(', ')}): debuggrant never grants access in the operator's own namespace or a system namespace`;
}
