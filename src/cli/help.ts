// Help pages, rendered from spec.ts: the global one and one per command, kubectl style.
import { COMMANDS, GLOBAL_FLAGS, type CommandSpec, type FlagSpec } from './spec.ts';

const NAME = 'kubectl debuggrant';

function flagLines(flags: Readonly<Record<string, FlagSpec>>): string[] {
  const rows = Object.entries(flags).map(([name, f]) => {
    const left = `${f.short ? `-${f.short}, ` : '    '}--${name}${f.type === 'string' ? ` ${f.arg ?? 'VALUE'}` : ''}`;
    const right = `${f.help}${f.default !== undefined ? ` (default ${f.default})` : ''}`;
    return [left, right] as const;
  });
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`);
}

export function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `${NAME}: time-bounded, approved debug access to Kubernetes pods (DebugGrant)`,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global flags:',
    ...flagLines(GLOBAL_FLAGS),
    '',
    `Exit status: 0 success, 1 a problem was found or the cluster refused, 2 usage error.`,
    `Use "${NAME} COMMAND --help" for a command's flags and examples.`,
    '',
  ].join('\n');
}

export function commandHelp(c: CommandSpec): string {
  return [
    `${c.summary}.`,
    '',
    'Usage:',
    `  ${NAME} ${c.usage}`,
    ...(c.details ? ['', c.details] : []),
    '',
    'Examples:',
    ...c.examples.map((e) => `  ${e}`),
    ...(Object.keys(c.flags).length > 0 ? ['', 'Flags:', ...flagLines(c.flags)] : []),
    '',
    'Global flags:',
    ...flagLines(GLOBAL_FLAGS),
    '',
  ].join('\n');
}
