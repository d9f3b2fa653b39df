// Cuts `"managedFields":[…]` out of JSON text before it is parsed. The informers keep no
// managedFields (cached.ts), yet they are most of what the API server sends for an object:
// 5.6 KB of a realistic pod's 6.4 KB as metadata, and there is no request option to leave
// them out. Parsed, every pod's managedFields become a few hundred short-lived objects: a
// page of 200 pods is ~1.3 MB of JSON, more than the Deployment's 2 MB semi-space holds,
// so they were promoted to the old generation and set the operator's peak RSS
// (docs/benchmark.md). Cut from the text, they are never allocated as objects.
//
// Only a key named managedFields whose value is an array is cut: in every object the
// informers read, that is ObjectMeta's field and nothing else (labels and annotations named
// so hold strings and stay). The text must be valid JSON; what is not is left as it is, for
// JSON.parse to refuse.

const KEY = '"managedFields"';
const BACKSLASH = 0x5c;
const QUOTE = 0x22;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Index just past the string whose opening quote is at `at`; -1 if it never closes. */
function afterString(text: string, at: number): number {
  let i = at + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) return -1;
    let slashes = 0;
    while (text.charCodeAt(q - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/** Index just past the array or object that opens at `at`; -1 if it never closes. */
function afterContainer(text: string, at: number): number {
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = afterString(text, i) - 1; // the loop's i++ lands just past the string
      if (i < 0) return -1;
    } else if (c === 0x5b || c === 0x7b) depth++;
    else if ((c === 0x5d || c === 0x7d) && --depth === 0) return i + 1;
  }
  return -1;
}

const skipSpace = (text: string, i: number, step: 1 | -1): number => {
  while (isSpace(text.charCodeAt(i))) i += step;
  return i;
};

/** The same JSON without any `"managedFields": [ … ]` member (and the comma that joined it). */
export function withoutManagedFields(text: string): string {
  let at = text.indexOf(KEY);
  if (at < 0) return text;
  const kept: string[] = [];
  let from = 0;
  while (at >= 0) {
    const next = cut(text, at);
    if (next) {
      kept.push(text.slice(from, next.start));
      from = next.end;
      at = text.indexOf(KEY, next.end);
    } else {
      at = text.indexOf(KEY, at + KEY.length);
    }
  }
  kept.push(text.slice(from));
  return kept.join('');
}

/** The span to cut for the key whose quote is at `at`, or undefined when it is not such a member. */
function cut(text: string, at: number): { start: number; end: number } | undefined {
  // Inside a string a quote is always escaped: one preceded by a backslash is not a key.
  if (text.charCodeAt(at - 1) === BACKSLASH) return undefined;
  const before = skipSpace(text, at - 1, -1);
  const opener = text.charCodeAt(before);
  if (opener !== 0x2c && opener !== 0x7b) return undefined; // a key follows `,` or `{`
  let i = skipSpace(text, at + KEY.length, 1);
  if (text.charCodeAt(i) !== 0x3a) return undefined; // `:`
  i = skipSpace(text, i + 1, 1);
  if (text.charCodeAt(i) !== 0x5b) return undefined; // only an array value
  const end = afterContainer(text, i);
  if (end < 0) return undefined;
  // `,"managedFields":[…]` goes with its leading comma; `{"managedFields":[…],` with its trailing one.
  if (opener === 0x2c) return { start: before, end };
  const after = skipSpace(text, end, 1);
  return { start: at, end: text.charCodeAt(after) === 0x2c ? after + 1 : end };
}
