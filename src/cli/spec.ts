// The commands and flags of kubectl-debuggrant, as data: the parser, the help pages, the
// completion scripts and did-you-mean all read this one table. Kept free of heavy imports
// so that `--help` and completion start in milliseconds.
import { PROFILES } from '../api/profiles.ts';

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  default?: string;
  /** Placeholder in help, e.g. NAMESPACE. */
  arg?: string;
  help: string;
  /** Values offered by completion and checked by the parser. */
  choices?: readonly string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  /** Longer explanation printed under Usage. */
  details?: string;
  flags: Readonly<Record<string, FlagSpec>>;
  examples: readonly string[];
  /** Positional arguments completion offers, e.g. files or shells. */
  positionals?: 'files' | 'grants' | 'pods' | readonly string[];
}

export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_USAGE = 2;

export const GLOBAL_FLAGS: Readonly<Record<string, FlagSpec>> = {
  kubeconfig: { type: 'string', arg: 'FILE', help: 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)' },
  context: { type: 'string', arg: 'NAME', help: 'kubeconfig context to use (default: the current context)' },
  help: { type: 'boolean', short: 'h', help: 'help for this command' },
  version: { type: 'boolean', help: 'print the CLI version (same as `version --client`)' },
};

const namespace: FlagSpec = { type: 'string', short: 'n', arg: 'NAMESPACE', help: 'namespace (default: the kubeconfig context\'s namespace, else "default")' };
const output = (choices: readonly string[], help: string): FlagSpec => ({ type: 'string', short: 'o', arg: 'FORMAT', choices, help });

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'new',
    summary: 'Write a DebugGrant for a pull request',
    usage:
      'new --name NAME -n NAMESPACE (--user U | --group G | --service-account NS/NAME) --selector SELECTOR --image IMAGE@sha256:DIGEST --reason TEXT [flags]',
    details:
      "Checks the grant as the API server would (and, with --config, as the operator's policy would) and prints it as YAML,\n" +
      'or writes it with --write. notAfter is set to now + --merge-window + --ttl, so a late merge or a re-sync cannot start it later.',
    flags: {
      name: { type: 'string', arg: 'NAME', help: 'grant name (a DNS subdomain of at most 63 characters)' },
      namespace: { ...namespace, help: 'namespace of the pods to debug (required)' },
      user: { type: 'string', arg: 'USER', help: 'subject: a user name as the API server knows it' },
      group: { type: 'string', arg: 'GROUP', help: 'subject: a group' },
      'service-account': { type: 'string', arg: 'NAMESPACE/NAME', help: 'subject: a ServiceAccount' },
      selector: { type: 'string', short: 'l', arg: 'SELECTOR', help: 'pods, as a label selector: app=web, tier!=db, env in (a,b), env notin (c), key, !key' },
      image: { type: 'string', arg: 'IMAGE', help: 'debug image, pinned by digest (REGISTRY/PATH@sha256:<64 hex>)' },
      ttl: { type: 'string', default: '1h', arg: 'DURATION', help: 'how long access lasts once active (e.g. 30m, 2h)' },
      reason: { type: 'string', arg: 'TEXT', help: 'why, in a few words (an incident or ticket)' },
      approval: { type: 'string', arg: 'URL', help: 'the pull request or ticket that approves it' },
      access: { type: 'string', default: 'debug', arg: 'LIST', help: 'comma-separated: debug, exec, attach, portForward, logs' },
      profile: { type: 'string', default: 'restricted', arg: 'PROFILE', choices: [...PROFILES], help: 'kubectl debug profile' },
      'on-expiry': {
        type: 'string',
        default: 'Flag',
        arg: 'ACTION',
        choices: ['Flag', 'Evict'],
        help: 'what happens to pods with debug containers left at expiry',
      },
      'merge-window': { type: 'string', default: '24h', arg: 'DURATION', help: 'how long the pull request may wait before the grant can no longer start' },
      config: { type: 'string', arg: 'FILE', help: 'operator configuration: also check the cluster policy (registries, maxTtl, profiles)' },
      output: output(['yaml', 'json'], 'output format: yaml (default) or json'),
      write: { type: 'string', arg: 'FILE', help: 'write the grant to FILE instead of printing it' },
    },
    examples: [
      'kubectl debuggrant new --name inc-4211-checkout -n shop --user alice@example.com -l app=checkout \\\n    --image registry.example.com/debug/netshoot@sha256:<digest> --ttl 2h --reason "INC-4211 checkout latency" \\\n    --approval https://git.example.com/ops/pull/812 --write shop/inc-4211-checkout.yaml',
      'kubectl debuggrant new --name inc-9 -n shop --group oncall -l \'app=web,tier!=db\' --access exec,logs --image … --reason "INC-9 500s"',
    ],
  },
  {
    name: 'validate',
    summary: 'Check DebugGrant files offline, as the API server and the operator would',
    usage: 'validate FILE|DIR... [--config OPERATOR_CONFIG] [-o text|json|github|gitlab]',
    details:
      'Reads every *.yaml/*.yml file (directories recursively) and reports each problem once, as\n' +
      'FILE:LINE:COL: FIELD: MESSAGE. -o github prints GitHub Actions annotations (::error file=F,line=L,col=C::MESSAGE),\n' +
      '-o gitlab a GitLab Code Quality report (JSON; artifacts:reports:codequality).\n' +
      'Exit status: 0 all valid, 1 problems found, 2 usage error (bad flags, nothing to check).',
    flags: {
      config: { type: 'string', arg: 'FILE', help: 'operator configuration: also check the cluster policy (registries, maxTtl, profiles)' },
      output: output(['text', 'json', 'github', 'gitlab'], 'output format: text (default), json, github (Actions annotations) or gitlab (Code Quality JSON)'),
    },
    examples: [
      'kubectl debuggrant validate . --config operator-config.yaml',
      'kubectl debuggrant validate shop/inc-4211-checkout.yaml -o json',
      'kubectl debuggrant validate . --config operator-config.yaml -o github       # in a GitHub Actions step',
      'kubectl debuggrant validate . -o gitlab > gl-code-quality-report.json        # GitLab: artifacts:reports:codequality',
    ],
    positionals: 'files',
  },
  {
    name: 'list',
    summary: 'List grants with their phase, pods and time left',
    usage: 'list [-n NAMESPACE | -A] [-l SELECTOR] [-o json|yaml|wide|name]',
    flags: {
      namespace,
      'all-namespaces': { type: 'boolean', short: 'A', help: 'list grants in all namespaces' },
      selector: { type: 'string', short: 'l', arg: 'SELECTOR', help: 'only grants whose labels match (kubectl selector syntax)' },
      output: output(['json', 'yaml', 'wide', 'name'], 'output format: json, yaml, wide or name'),
    },
    examples: ['kubectl debuggrant list', 'kubectl debuggrant list -A -o wide', 'kubectl debuggrant list -n shop -o name'],
  },
  {
    name: 'revoke',
    summary: 'End a grant now (its subject may end their own grant)',
    usage: 'revoke NAME [-n NAMESPACE] [--reason TEXT]',
    details:
      'Records who you are (as the API server authenticates you) on the grant; the operator then removes the access\n' +
      'at once. A grant that already ended is left as it is.',
    flags: { namespace, reason: { type: 'string', arg: 'TEXT', help: 'why the grant ends early' } },
    examples: ['kubectl debuggrant revoke inc-4211-checkout -n shop --reason "incident closed"'],
    positionals: 'grants',
  },
  {
    name: 'debug',
    summary: 'kubectl debug a pod with the image and profile of your active grant',
    usage: 'debug POD [-n NAMESPACE] [--grant NAME] [--target CONTAINER] [--no-attach] [-- KUBECTL-DEBUG-ARGS...]',
    flags: {
      namespace,
      grant: { type: 'string', arg: 'NAME', help: 'which grant, when several cover the pod' },
      target: { type: 'string', arg: 'CONTAINER', help: 'container whose process namespace to share' },
      'no-attach': { type: 'boolean', help: 'add the container without attaching a terminal' },
      kubectl: { type: 'string', arg: 'PATH', help: 'kubectl to run (default: $KUBECTL or kubectl on PATH)' },
    },
    details:
      "The API server runs the debug container's command (the image's configured default, sh unless\n" +
      'configured otherwise, when none is given after a second --) under `timeout -s KILL` until the\n' +
      "grant's deadline: the session ends when the grant does, with or without the operator.",
    examples: ['kubectl debuggrant debug checkout-1 -n shop --target app', 'kubectl debuggrant debug checkout-1 -n shop -- -- sh'],
    positionals: 'pods',
  },
  {
    name: 'audit',
    summary: 'Who can exec, attach, port-forward, add debug containers or use nodes/proxy outside any grant',
    usage: 'audit [--include-system] [-o json|yaml]',
    flags: {
      'include-system': { type: 'boolean', help: 'include system:* users and groups and kube-* ServiceAccounts' },
      output: output(['json', 'yaml'], 'output format: json or yaml'),
    },
    examples: ['kubectl debuggrant audit', 'kubectl debuggrant audit -o json'],
  },
  {
    name: 'prune',
    summary: 'List, or remove from a checkout, the files of grants that have ended',
    usage: 'prune FILE|DIR... [--from-cluster | --offline] [--delete] [-o json]',
    details:
      'A repository of grants keeps only what is live. A grant has ended when the cluster says Expired, Revoked or\n' +
      'Denied (the default: asks the cluster for each grant by name), or with --offline when its spec.notAfter has passed.\n' +
      'A file is removable only when every document in it is a grant that ended; --delete removes those files, then\n' +
      'commit the removal. Files of grants that are or may be active are never touched (deleting one would revoke it).',
    flags: {
      'from-cluster': { type: 'boolean', help: "decide from each grant's status in the cluster (the default)" },
      offline: { type: 'boolean', help: 'decide from the files alone: a passed spec.notAfter has ended; no cluster needed' },
      delete: { type: 'boolean', help: 'remove the files that hold only ended grants' },
      output: output(['json'], 'output format: json'),
    },
    examples: [
      'kubectl debuggrant prune .',
      'kubectl debuggrant prune . --delete && git add -A && git commit -m "prune ended grants"',
      'kubectl debuggrant prune shop --offline -o json',
    ],
    positionals: 'files',
  },
  {
    name: 'report',
    summary: 'The after-action record of one grant: who, why, approved by whom, when, every session and stream',
    usage: 'report NAME [-n NAMESPACE] [--audit-log FILE[,FILE...] [FILE...]] [-o markdown|json]',
    details:
      "Reads the grant (it may be long ended), the operator's record of it in the namespace's DebugGrantIndex (kept after\n" +
      "the grant is deleted) and, with --audit-log, the API server's audit log (config/audit/policy.yaml): who created it, who\n" +
      'added each debug container, every exec, attach and port-forward with its command and times. It ends with what it could not know.',
    flags: {
      namespace,
      'audit-log': { type: 'string', arg: 'FILE', help: "the API server's audit log (JSON lines); several: comma-separated, or a glob after the flag" },
      output: output(['markdown', 'json'], 'output format: markdown (default) or json'),
    },
    examples: [
      'kubectl debuggrant report inc-4211-checkout -n shop',
      'kubectl debuggrant report inc-4211-checkout -n shop --audit-log /var/log/kubernetes/audit*.log -o json',
    ],
    positionals: 'grants',
  },
  {
    name: 'version',
    summary: "Print the CLI version, and the operator's when the cluster is reachable",
    usage: 'version [--client] [--operator-namespace NAMESPACE] [-o json|yaml]',
    flags: {
      client: { type: 'boolean', help: 'only the CLI version; do not contact the cluster' },
      'operator-namespace': { type: 'string', default: 'debuggrant-system', arg: 'NAMESPACE', help: 'where the operator runs' },
      output: output(['json', 'yaml'], 'output format: json or yaml'),
    },
    examples: ['kubectl debuggrant version', 'kubectl debuggrant version --client'],
  },
  {
    name: 'completion',
    summary: 'Print a shell completion script (bash or zsh)',
    usage: 'completion bash|zsh',
    details:
      'bash: source <(kubectl-debuggrant completion bash)\nzsh:  source <(kubectl-debuggrant completion zsh)\n' +
      'For `kubectl debuggrant <TAB>` (kubectl 1.26+), put the script printed by `completion kubectl-plugin` on PATH as kubectl_complete-debuggrant.',
    flags: {},
    examples: ['source <(kubectl-debuggrant completion bash)', 'kubectl-debuggrant completion zsh > "${fpath[1]}/_kubectl-debuggrant"'],
    positionals: ['bash', 'zsh', 'kubectl-plugin'],
  },
];

export const commandNamed = (name: string): CommandSpec | undefined => COMMANDS.find((c) => c.name === name);

/** Every flag a command accepts, its own and the global ones. */
export const flagsOf = (c: CommandSpec | undefined): Readonly<Record<string, FlagSpec>> => ({ ...GLOBAL_FLAGS, ...c?.flags });
