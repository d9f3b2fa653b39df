// Which module runs each command, loaded only when that command runs.
//
// The pattern every command follows: its code lives in its own module and is reached only
// through the dynamic import() below. Never import a command's module, or anything that
// reaches @kubernetes/client-node, zod, yaml or luxon, statically from main.ts, args.ts,
// help.ts, completion.ts, errors.ts or spec.ts: the bundle splits at these imports
// (hack/bundle.ts), so `--help` and usage errors parse a few KiB, `validate` and `new` add
// the schema, and only the commands that talk to a cluster load the Kubernetes client.
// test/unit/bundle.test.ts fails when the entry, `version --client` or `validate` load it;
// `npm run bench -- cli` times them beside `kubectl version --client`.
// A new command: its spec in spec.ts, one line here (cli-parsing.test.ts checks the two agree).
import type { Invocation } from './args.ts';

export type CommandRunner = (inv: Invocation) => number | Promise<number>;

export const COMMAND_RUNNERS: Readonly<Record<string, () => Promise<CommandRunner>>> = {
  new: async () => (await import('./new.ts')).runNew,
  validate: async () => (await import('./validate.ts')).runValidate,
  list: async () => (await import('./cluster-commands.ts')).runList,
  revoke: async () => (await import('./cluster-commands.ts')).runRevoke,
  debug: async () => (await import('./cluster-commands.ts')).runDebug,
  audit: async () => (await import('./cluster-commands.ts')).runAudit,
  prune: async () => (await import('./prune.ts')).runPrune,
  report: async () => (await import('./report-command.ts')).runReport,
  version: async () => (await import('./version-command.ts')).runVersion,
  completion: async () => (await import('./completion-command.ts')).runCompletion,
};
