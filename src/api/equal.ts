// Semantic equality of API objects: key order and omitted-vs-empty do not matter (the API
// server sorts keys and drops empty optional fields), so no-op reconciles send nothing.
import { createHash } from 'node:crypto';
import { byCodeUnit } from './order.ts';
export function sameContent(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/**
 * A short fingerprint of the content, equal exactly when sameContent is (SHA-256, 128 bits,
 * base64url: 22 characters). Caches keep it instead of content they only compare.
 */
export function contentDigest(v: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(v)))
    .digest('base64url')
    .slice(0, 22);
}

/** The same members, in any order. */
export function sameMembers(a: readonly string[] | undefined, b: readonly string[]): boolean {
  const x = [...(a ?? [])].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined && x !== null && !(Array.isArray(x) && x.length === 0))
        .sort(([a], [b]) => byCodeUnit(a, b))
        .map(([k, x]) => [k, canonical(x)]),
    );
  }
  return v;
}
