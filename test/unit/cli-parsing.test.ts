// The CLI's command line: kubectl's selector syntax, strict flags with did-you-mean,
// per-command help and completion, all from the one table in src/cli/spec.ts.
import { parseInvocation, suggest } from '../../src/cli/args.ts';
import { COMMAND_RUNNERS } from '../../src/cli/commands.ts';
import { complete, completionScript } from '../../src/cli/completion.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { commandHelp, globalHelp } from '../../src/cli/help.ts';
import { parseSelector } from '../../src/cli/selector.ts';
import { COMMANDS } from '../../src/cli/spec.ts';

describe('selectors in kubectl syntax', () => {
  test.each([
    ['app=web', { matchLabels: { app: 'web' } }],
    ['app==web, tier != db', { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] }],
    [
      'env in (a, b),env notin (c)',
      {
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['a', 'b'] },
          { key: 'env', operator: 'NotIn', values: ['c'] },
        ],
      },
    ],
    [
      'track,!legacy',
      {
        matchExpressions: [
          { key: 'track', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      },
    ],
    ['app.kubernetes.io/name=web,canary=', { matchLabels: { 'app.kubernetes.io/name': 'web', canary: '' } }],
  ])('%s', (text, selector) => {
    expect(parseSelector(text)).toEqual(selector);
  });

  test.each([
    ['app in (a', '"(" without ")"'],
    ['app in ()', 'the set needs values'],
    ['a=1,,b=2', 'an empty requirement'],
    ['replicas>3', 'cannot read "replicas>3"'],
    ['app=a,app=b', 'app cannot equal both a and b'],
  ])('%s is refused: %s', (text, message) => {
    expect(() => parseSelector(text)).toThrow(UsageError);
    expect(() => parseSelector(text)).toThrow(message);
  });
});

describe('command line', () => {
  const refused = (argv: string[]): string => {
    try {
      parseInvocation(argv);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return (err as Error).message;
    }
    throw new Error(`${argv.join(' ')} was accepted`);
  };

  test('flags before or after the command, defaults filled in, arguments after -- passed through', () => {
    const inv = parseInvocation(['--context', 'alice', 'debug', 'pod-1', '-n', 'shop', '--', '--container=x']);
    expect(inv.command?.name).toBe('debug');
    expect(inv.positionals).toEqual(['pod-1']);
    expect(inv.flags).toMatchObject({ context: 'alice', namespace: 'shop' });
    expect(inv.passthrough).toEqual(['--container=x']);
    expect(parseInvocation(['new']).flags).toMatchObject({ ttl: '1h', profile: 'restricted', 'on-expiry': 'Flag' });
  });

  test('mistakes are usage errors with a did-you-mean', () => {
    expect(refused(['lst'])).toBe('unknown command "lst"; did you mean list?');
    expect(refused(['list', '--namspace', 'x'])).toBe('unknown flag --namspace for "list"; did you mean --namespace?');
    expect(refused(['list', '-o', 'yml'])).toBe('-o yml is not one of: json, yaml, wide, name; did you mean yaml?');
    expect(refused(['validate', '-o', 'yaml', 'x'])).toBe('-o yaml is not one of: text, json, github, gitlab');
    expect(refused(['revoke', 'g', '--reason'])).toBe('--reason needs a value (TEXT)');
    expect(refused(['list', '--image', 'x'])).toBe('unknown flag --image for "list"');
    expect(refused(['list', '--all-namespaces=yes'])).toBe('--all-namespaces takes no value');
    expect(suggest('zzzzzz', ['list', 'new'])).toBeUndefined();
  });

  test('every command has its own help with usage, examples and flags', () => {
    for (const c of COMMANDS) {
      const help = commandHelp(c);
      expect(help).toContain(`kubectl debuggrant ${c.usage}`);
      expect(help).toContain('Examples:');
      for (const flag of Object.keys(c.flags)) expect(help).toContain(`--${flag}`);
      expect(globalHelp()).toContain(`  ${c.name} `);
    }
    expect(globalHelp()).toContain('Exit status: 0 success, 1 a problem was found or the cluster refused, 2 usage error.');
  });

  test('every command in the table has a runner loaded on demand, and every runner a command', async () => {
    expect(Object.keys(COMMAND_RUNNERS).sort()).toEqual(COMMANDS.map((c) => c.name).sort());
    for (const load of Object.values(COMMAND_RUNNERS)) expect(typeof (await load())).toBe('function');
  });

  test('completion offers commands, flags, flag values and files where a file goes', () => {
    expect(complete(['']).candidates).toEqual(COMMANDS.map((c) => c.name));
    expect(complete(['v']).candidates).toEqual(['validate', 'version']);
    expect(complete(['list', '--all']).candidates).toEqual(['--all-namespaces']);
    expect(complete(['list', '-o', '']).candidates).toEqual(['json', 'yaml', 'wide', 'name']);
    expect(complete(['--context', 'x', 'new', '--profile', 'net'])).toEqual({ candidates: ['netadmin'], directive: 4 });
    expect(complete(['validate', ''])).toEqual({ candidates: [], directive: 0 });
    expect(complete(['list', '--kubeconfig', ''])).toEqual({ candidates: [], directive: 0 });
    expect(complete(['completion', ''])).toEqual({ candidates: ['bash', 'zsh', 'kubectl-plugin'], directive: 4 });
    for (const shell of ['bash', 'zsh', 'kubectl-plugin']) expect(completionScript(shell)).toContain('__complete');
  });
});
