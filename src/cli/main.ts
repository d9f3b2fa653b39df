#!/usr/bin/env node
// kubectl-debuggrant. This file only parses the command line: each command's module (and the
// Kubernetes client behind it) is loaded when that command runs, so `--help`, completion and
// usage errors start fast.
import { bool, parseInvocation, type Invocation } from './args.ts';
import { completionOutput } from './completion.ts';
import { UsageError } from './errors.ts';
import { commandHelp, globalHelp } from './help.ts';
import { EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from './spec.ts';

async function run(argv: string[]): Promise<number> {
  if (argv[0] === '__complete') {
    process.stdout.write(completionOutput(argv.slice(1)));
    return EXIT_OK;
  }
  const inv = parseInvocation(argv);
  const { command } = inv;
  if (bool(inv.flags, 'help')) {
    process.stdout.write(command ? commandHelp(command) : globalHelp());
    return EXIT_OK;
  }
  if (!command) {
    if (bool(inv.flags, 'version')) return (await import('./version-command.ts')).runVersion({ ...inv, flags: { ...inv.flags, client: true } });
    process.stderr.write(globalHelp());
    return EXIT_USAGE;
  }
  return runCommand(command.name, inv);
}

async function runCommand(name: string, inv: Invocation): Promise<number> {
  switch (name) {
    case 'new': return (await import('./new.ts')).runNew(inv);
    case 'validate': return (await import('./validate.ts')).runValidate(inv);
    case 'list': return (await import('./cluster-commands.ts')).runList(inv);
    case 'revoke': return (await import('./cluster-commands.ts')).runRevoke(inv);
    case 'debug': return (await import('./cluster-commands.ts')).runDebug(inv);
    case 'audit': return (await import('./cluster-commands.ts')).runAudit(inv);
    case 'version': return (await import('./version-command.ts')).runVersion(inv);
    case 'completion': return (await import('./completion-command.ts')).runCompletion(inv);
    default: throw new UsageError(`unknown command "${name}"`);
  }
}

run(process.argv.slice(2)).then((code) => { process.exitCode = code; }, async (err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\nRun \`kubectl debuggrant --help\` for usage.\n`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  const { describeFailure } = await import('./failures.ts');
  process.stderr.write(`error: ${describeFailure(err)}\n`);
  process.exitCode = EXIT_PROBLEMS;
});
