// `kubectl debuggrant completion bash|zsh|kubectl-plugin`.
import { completionScript } from './completion.ts';
import type { Invocation } from './args.ts';
import { UsageError } from './errors.ts';
import { EXIT_OK } from './spec.ts';

const SHELLS = ['bash', 'zsh', 'kubectl-plugin'];

export function runCompletion(inv: Invocation): number {
  const [shell, ...extra] = inv.positionals;
  if (!shell || extra.length > 0 || !SHELLS.includes(shell)) throw new UsageError(`completion takes one of: ${SHELLS.join(', ')}`);
  process.stdout.write(completionScript(shell));
  return EXIT_OK;
}
