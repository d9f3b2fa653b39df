// One copy of each string that repeats across cached objects. JSON.parse gives every
// occurrence of "debuggrant.dev/v1alpha1", an image reference, a condition reason or a label
// value its own copy: at 10,000 grants such repeats held ~9 MB of the heap
// (docs/benchmark.md), and a pod's labels and owner kind repeat across its whole ReplicaSet.
// Only fields that hold such vocabulary go through here, never names, uids or times, so the
// pool stays small; past its bound it starts over rather than grow.

const MAX_VALUES = 20_000;

export class StringPool {
  private readonly values = new Map<string, string>();
  private readonly max: number;

  constructor(max = MAX_VALUES) {
    this.max = max;
  }

  /** The pool's copy of `s` (equal content, one allocation for all the objects that hold it). */
  share(s: string): string {
    const known = this.values.get(s);
    if (known !== undefined) return known;
    if (this.values.size >= this.max) this.values.clear();
    this.values.set(s, s);
    return s;
  }

  has(s: string): boolean {
    return this.values.has(s);
  }
}

/** The pool the informer caches share. */
export const vocabulary = new StringPool();

/**
 * One copy of each repeating read-only value (a pod's label set, its owner list): every pod of
 * a ReplicaSet carries the same ones. Keyed by a canonical string the caller builds; bounded
 * like StringPool. What it hands out is frozen: the caches are read, never written through.
 */
export class ValuePool<T extends object> {
  private readonly values = new Map<string, T>();
  private readonly max: number;

  constructor(max = MAX_VALUES) {
    this.max = max;
  }

  share(key: string, value: T): T {
    const known = this.values.get(key);
    if (known !== undefined) return known;
    if (this.values.size >= this.max) this.values.clear();
    Object.freeze(value);
    this.values.set(key, value);
    return value;
  }
}

/** Keys whose string values (or lists of strings) are vocabulary, wherever they sit in a grant, index entry or binding. */
const VOCABULARY_KEYS = new Set([
  'apiVersion',
  'kind',
  'apiGroup',
  'image',
  'profile',
  'onExpiry',
  'ttl',
  'phase',
  'type',
  'status',
  'reason',
  'group',
  'access',
  'finalizers',
]);

/**
 * Replaces, in place, the vocabulary strings of a freshly parsed object by their shared copy
 * (the values stay equal). Returns the object.
 */
export function shareVocabulary<T>(value: T, pool: StringPool = vocabulary): T {
  if (Array.isArray(value)) {
    for (const item of value) shareVocabulary(item, pool);
  } else if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'string') {
        if (VOCABULARY_KEYS.has(k)) o[k] = pool.share(v);
      } else if (Array.isArray(v) && VOCABULARY_KEYS.has(k)) {
        o[k] = v.map((x: unknown) => (typeof x === 'string' ? pool.share(x) : x));
      } else {
        shareVocabulary(v, pool);
      }
    }
  }
  return value;
}
