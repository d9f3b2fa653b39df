#!/usr/bin/env node
// kubectl-debuggrant. This file only parses the command line: each command's module (and the
// Kubernetes client behind it) is loaded when that command runs (commands.ts says how), so
// `--help`, completion and usage errors start fast.
import { bool, parseInvocation } from './args.ts';
import { COMMAND_RUNNERS } from './commands.ts';
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
  const load = COMMAND_RUNNERS[command.name];
  if (!load) throw new UsageError(`unknown command "${command.name}"`);
  return (await load())(inv);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  async (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\nRun \`kubectl debuggrant --help\` for usage.\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    const { describeFailure } = await import('./failures.ts');
    process.stderr.write(`error: ${describeFailure(err)}\n`);
    process.exitCode = EXIT_PROBLEMS;
  },
);
