// Ordering of the strings the operator sorts (Kubernetes names, condition types, RFC 3339
// times, subresources): by UTF-16 code unit, as Go's sort.Strings orders bytes for ASCII.
// Not String.prototype.localeCompare: its first call builds an ICU collator, which maps
// ~3 MB of ICU's collation data and code into the process (docs/benchmark.md, "Idle",
// session 3), and for these ASCII strings it gives the same order.
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
