// Command-line parsing against the table in spec.ts: which command, its flags (strictly:
// unknown flags, missing values and values outside a flag's choices are usage errors with a
// did-you-mean), and its positional arguments.
import { parseArgs } from 'node:util';
import { UsageError } from './errors.ts';
import { COMMANDS, commandNamed, flagsOf, type CommandSpec, type FlagSpec } from './spec.ts';

export type FlagValues = Record<string, string | boolean | undefined>;

export interface Invocation {
  command: CommandSpec | undefined;
  /** What was typed as the command, when it is not one (reported with a suggestion). */
  flags: FlagValues;
  positionals: string[];
  /** Arguments after `--`, passed through (debug). */
  passthrough: string[];
}

type ParseOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

const toParseOptions = (flags: Readonly<Record<string, FlagSpec>>): ParseOptions =>
  Object.fromEntries(Object.entries(flags).map(([name, f]) => [name, f.short ? { type: f.type, short: f.short } : { type: f.type }]));

/** Every flag of every command: enough to find the command word wherever flags stand. */
const ALL_FLAGS = toParseOptions(Object.assign({}, ...COMMANDS.map((c) => flagsOf(c))) as Record<string, FlagSpec>);

/** Edit distance, for did-you-mean. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] ?? 0;
      row[j] = Math.min(up + 1, (row[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length] ?? 0;
}

/** The closest candidate, if close enough to be what was meant. */
export function suggest(typed: string, candidates: readonly string[]): string | undefined {
  const scored = candidates.map((c) => ({ c, d: c.startsWith(typed) && typed.length >= 2 ? 0 : distance(typed, c) })).sort((x, y) => x.d - y.d);
  const best = scored[0];
  return best && best.d <= Math.max(2, Math.floor(typed.length / 3)) && best.d < typed.length ? best.c : undefined;
}

const didYouMean = (s: string | undefined): string => (s ? `; did you mean ${s}?` : '');

export function parseInvocation(argv: readonly string[]): Invocation {
  const dashDash = argv.indexOf('--');
  const args = dashDash >= 0 ? argv.slice(0, dashDash) : [...argv];
  const passthrough = dashDash >= 0 ? argv.slice(dashDash + 1) : [];
  const first = parseArgs({ args, options: ALL_FLAGS, allowPositionals: true, strict: false });
  const [word] = first.positionals;
  const command = word === undefined ? undefined : commandNamed(word);
  if (word !== undefined && !command) {
    throw new UsageError(
      `unknown command "${word}"${didYouMean(
        suggest(
          word,
          COMMANDS.map((c) => c.name),
        ),
      )}`,
    );
  }
  const specs = flagsOf(command);
  const { values, positionals, tokens } = parseArgs({ args, options: toParseOptions(specs), allowPositionals: true, strict: false, tokens: true });
  const where = command ? ` for "${command.name}"` : '';
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const spec = specs[t.name];
    if (!spec) {
      const names = Object.keys(specs).map((n) => `--${n}`);
      throw new UsageError(`unknown flag ${t.rawName}${where}${didYouMean(suggest(t.rawName.startsWith('--') ? t.rawName : `--${t.name}`, names))}`);
    }
    if (spec.type === 'string' && t.value === undefined) throw new UsageError(`${t.rawName} needs a value${spec.arg ? ` (${spec.arg})` : ''}`);
    if (spec.type === 'boolean' && t.value !== undefined) throw new UsageError(`${t.rawName} takes no value`);
    if (spec.choices && t.value !== undefined && !spec.choices.includes(t.value)) {
      throw new UsageError(`${t.rawName} ${t.value} is not one of: ${spec.choices.join(', ')}${didYouMean(suggest(t.value, spec.choices))}`);
    }
  }
  const flags: FlagValues = { ...values };
  for (const [name, spec] of Object.entries(specs)) if (flags[name] === undefined && spec.default !== undefined) flags[name] = spec.default;
  return { command, flags, positionals: positionals.slice(1), passthrough };
}

/** A string flag's value (undefined when not given and without default). */
export const str = (f: FlagValues, name: string): string | undefined => {
  const v = f[name];
  return typeof v === 'string' ? v : undefined;
};
export const bool = (f: FlagValues, name: string): boolean => f[name] === true;
