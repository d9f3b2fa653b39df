// Shell completion. The shells ask the CLI itself (`__complete WORDS...`, the protocol cobra
// and kubectl's plugin completion use: one candidate per line, then `:DIRECTIVE`), so bash,
// zsh and `kubectl debuggrant <TAB>` all complete from the one table in spec.ts.
import { UsageError } from './errors.ts';
import { COMMANDS, commandNamed, flagsOf } from './spec.ts';

/** Cobra's directives: 0 = the shell may also complete file names, 4 = no file names. */
const FILES = 0;
const NO_FILES = 4;

/** Candidates for the last word of `words` (the words after the program name). */
export function complete(words: readonly string[]): { candidates: string[]; directive: number } {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const commandWord = before.find((w, i) => !w.startsWith('-') && !takesValue(before[i - 1]));
  const command = commandWord === undefined ? undefined : commandNamed(commandWord);
  const flags = flagsOf(command);
  const previous = before.at(-1);
  if (previous?.startsWith('-') && !previous.includes('=')) {
    const spec = flags[previous.replace(/^-+/, '')] ?? Object.values(flags).find((f) => `-${f.short ?? ''}` === previous);
    if (spec?.type === 'string') return spec.choices ? only([...spec.choices], current) : { candidates: [], directive: spec.arg === 'FILE' ? FILES : NO_FILES };
  }
  if (current.startsWith('-'))
    return only(
      Object.keys(flags).map((n) => `--${n}`),
      current,
    );
  if (!command)
    return only(
      COMMANDS.map((c) => c.name),
      current,
    );
  const positionals = command.positionals;
  if (positionals === 'files') return { candidates: [], directive: FILES };
  if (Array.isArray(positionals)) return only([...(positionals as readonly string[])], current);
  return { candidates: [], directive: NO_FILES };
}

function takesValue(word: string | undefined): boolean {
  if (!word?.startsWith('-') || word.includes('=')) return false;
  const all = COMMANDS.flatMap((c) => Object.entries(flagsOf(c)));
  return all.some(([name, f]) => f.type === 'string' && (word === `--${name}` || word === `-${f.short ?? ''}`));
}

const only = (list: string[], prefix: string) => ({ candidates: list.filter((c) => c.startsWith(prefix)), directive: NO_FILES });

export const completionOutput = (words: readonly string[]): string => {
  const { candidates, directive } = complete(words);
  return [...candidates, `:${String(directive)}`].join('\n') + '\n';
};

export function completionScript(shell: string): string {
  switch (shell) {
    case 'bash':
      return `# bash completion for kubectl-debuggrant: source <(kubectl-debuggrant completion bash)
_kubectl_debuggrant() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" lines directive
  mapfile -t lines < <("\${COMP_WORDS[0]}" __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  (( \${#lines[@]} )) || return
  directive="\${lines[-1]#:}"
  unset 'lines[-1]'
  COMPREPLY=()
  local c
  for c in "\${lines[@]}"; do COMPREPLY+=("$c"); done
  if (( \${#COMPREPLY[@]} == 0 )) && [[ $directive == 0 ]]; then mapfile -t COMPREPLY < <(compgen -f -- "$cur"); fi
}
complete -F _kubectl_debuggrant kubectl-debuggrant
`;
    case 'zsh':
      return `#compdef kubectl-debuggrant
# zsh completion for kubectl-debuggrant: source <(kubectl-debuggrant completion zsh)
_kubectl_debuggrant() {
  local -a lines candidates
  lines=("\${(@f)$(\${words[1]} __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  local directive="\${lines[-1]#:}"
  candidates=("\${(@)lines[1,-2]}")
  if (( \${#candidates} )); then compadd -- "\${candidates[@]}"; elif [[ $directive == 0 ]]; then _files; fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _kubectl_debuggrant "$@"; else compdef _kubectl_debuggrant kubectl-debuggrant; fi
`;
    case 'kubectl-plugin':
      return `#!/bin/sh
# kubectl_complete-debuggrant: put this on PATH (executable) and \`kubectl debuggrant <TAB>\` completes (kubectl 1.26+).
exec kubectl-debuggrant __complete "$@"
`;
    default:
      throw new UsageError(`no completion for shell "${shell}"`);
  }
}
