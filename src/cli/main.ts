#!/usr/bin/env node
// kubectl-debuggrant: `kubectl debuggrant new|validate|list|revoke|debug|audit`.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DateTime } from 'luxon';
import { loadConfig, type OperatorConfig } from '../config.ts';
import { connect, type KubeApi } from '../kube/client.ts';
import { listGrants, readRbac, requestRevocation, whoAmI } from '../kube/queries.ts';
import { apiMessage } from '../runtime/errors.ts';
import { auditRbac, formatAudit } from './audit.ts';
import { UsageError } from './errors.ts';
import { formatGrantRows, grantRows, grantsCovering } from './grants-view.ts';
import { buildGrant, grantYaml } from './new.ts';
import { formatReport, validatePaths } from './validate.ts';

const HELP = `kubectl debuggrant: time-bounded, approved debug access

Usage:
  kubectl debuggrant new --name NAME -n NAMESPACE (--user U | --group G | --service-account NS/NAME)
      --selector app=checkout --image REGISTRY/IMAGE@sha256:DIGEST --reason "INC-1 why" [--ttl 1h]
      [--access debug,exec] [--profile restricted] [--on-expiry Flag|Evict] [--approval URL]
      [--merge-window 24h] [-o FILE]
        Write a DebugGrant for a pull request (notAfter = now + merge window + ttl).
  kubectl debuggrant validate FILE|DIR... [--config OPERATOR_CONFIG] [-o json]
        Check grants offline, as PR CI does. Exit 1 when any grant is invalid.
  kubectl debuggrant list [-n NAMESPACE | -A] [-o json]
        Grants with the time they have left.
  kubectl debuggrant revoke NAME -n NAMESPACE [--reason TEXT]
        End a grant now; the operator removes its access at once.
  kubectl debuggrant debug POD -n NAMESPACE [--grant NAME] [--target CONTAINER] [--no-attach] [-- KUBECTL-DEBUG-ARGS]
        kubectl debug with the image and profile of your active grant for POD.
  kubectl debuggrant audit [--include-system] [-o json]
        Who can exec, attach, port-forward, add ephemeral containers or use nodes/proxy outside any grant.

Global flags: --kubeconfig FILE, --context NAME, -h/--help.
`;

const options = {
  help: { type: 'boolean', short: 'h' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  output: { type: 'string', short: 'o' },
  config: { type: 'string' },
  name: { type: 'string' },
  user: { type: 'string' },
  group: { type: 'string' },
  'service-account': { type: 'string' },
  selector: { type: 'string', short: 'l' },
  image: { type: 'string' },
  ttl: { type: 'string', default: '1h' },
  reason: { type: 'string' },
  approval: { type: 'string' },
  access: { type: 'string', default: 'debug' },
  profile: { type: 'string', default: 'restricted' },
  'on-expiry': { type: 'string', default: 'Flag' },
  'merge-window': { type: 'string', default: '24h' },
  grant: { type: 'string' },
  target: { type: 'string' },
  'no-attach': { type: 'boolean' },
  'include-system': { type: 'boolean' },
  kubectl: { type: 'string', default: process.env.KUBECTL ?? 'kubectl' },
} as const;

type Flags = ReturnType<typeof parse>['values'];
const parse = (argv: string[]) => parseArgs({ args: argv, options, allowPositionals: true, strict: true });
const progress = (msg: string): void => { process.stderr.write(`${msg}\n`); };
const api = (f: Flags): KubeApi => connect({ kubeconfig: f.kubeconfig, context: f.context });
const namespaceOf = (f: Flags): string => {
  if (!f.namespace) throw new UsageError('-n NAMESPACE is required');
  return f.namespace;
};

async function run(argv: string[]): Promise<number> {
  const { values: f, positionals } = parse(argv);
  const [command, ...args] = positionals;
  if (f.help || !command) {
    process.stdout.write(HELP);
    return command || f.help ? 0 : 2;
  }
  switch (command) {
    case 'new': {
      const doc = buildGrant({
        name: f.name, namespace: f.namespace, user: f.user, group: f.group, serviceAccount: f['service-account'],
        selector: f.selector, image: f.image, ttl: f.ttl, reason: f.reason, approval: f.approval,
        access: f.access.split(',').map((a) => a.trim()), profile: f.profile, onExpiry: f['on-expiry'], mergeWindow: f['merge-window'],
      }, DateTime.now());
      if (f.output) {
        writeFileSync(f.output, grantYaml(doc));
        progress(`wrote ${f.output}: commit it and open a pull request`);
      } else {
        process.stdout.write(grantYaml(doc));
      }
      return 0;
    }
    case 'validate': {
      if (args.length === 0) throw new UsageError('validate needs at least one FILE or DIR');
      const config: OperatorConfig | undefined = f.config ? loadConfig({ DEBUGGRANT_CONFIG: f.config }) : undefined;
      const report = validatePaths(args, config);
      process.stdout.write(f.output === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatReport(report, config !== undefined));
      return report.valid ? 0 : 1;
    }
    case 'list': {
      progress('listing DebugGrants…');
      const grants = await listGrants(api(f), f['all-namespaces'] ? undefined : f.namespace);
      const rows = grantRows(grants, Date.now());
      process.stdout.write(f.output === 'json' ? JSON.stringify(rows, null, 2) + '\n' : formatGrantRows(rows));
      return 0;
    }
    case 'revoke': {
      const [name] = args;
      if (!name) throw new UsageError('revoke needs the grant NAME');
      const ns = namespaceOf(f);
      const client = api(f);
      const me = await whoAmI(client);
      const note = `${me.username} at ${new Date().toISOString()}${f.reason ? `: ${f.reason}` : ''}`;
      await requestRevocation(client, ns, name, note);
      process.stdout.write(`revocation of ${ns}/${name} requested; the operator removes its access now.\n` +
        `GitOps follow-up: delete the grant's file from the repository in a pull request. A revoked grant never becomes\n` +
        `active again, even if re-applied; asking for access again takes a new grant with a new name.\n`);
      return 0;
    }
    case 'debug': {
      const [pod, ...rest] = args;
      if (!pod) throw new UsageError('debug needs the POD name');
      const ns = namespaceOf(f);
      const client = api(f);
      progress('looking up your active grants…');
      const [me, grants] = await Promise.all([whoAmI(client), listGrants(client, ns)]);
      const covering = grantsCovering(grants, pod, me).filter((c) => !f.grant || c.grant.metadata.name === f.grant);
      if (covering.length === 0) throw new UsageError(`${me.username} has no active DebugGrant covering ${ns}/${pod}: open one with \`kubectl debuggrant new\``);
      if (covering.length > 1) throw new UsageError(`several grants cover ${ns}/${pod}: choose one with --grant (${covering.map((c) => c.grant.metadata.name).join(', ')})`);
      const chosen = covering[0];
      if (!chosen) return 1;
      const kubectlArgs = [
        ...(f.kubeconfig ? ['--kubeconfig', f.kubeconfig] : []), ...(f.context ? ['--context', f.context] : []),
        '-n', ns, 'debug', pod, `--image=${chosen.image}`, `--profile=${chosen.profile}`,
        ...(f.target ? [`--target=${f.target}`] : []), ...(f['no-attach'] ? [] : ['-it']), ...rest,
      ];
      progress(`using grant ${ns}/${chosen.grant.metadata.name ?? ''}: ${f.kubectl} ${kubectlArgs.join(' ')}`);
      const result = spawnSync(f.kubectl, kubectlArgs, { stdio: 'inherit' });
      return result.status ?? 1;
    }
    case 'audit': {
      progress('reading RBAC…');
      const findings = auditRbac(await readRbac(api(f)), f['include-system']);
      process.stdout.write(f.output === 'json' ? JSON.stringify(findings, null, 2) + '\n' : formatAudit(findings));
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

run(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
  if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`error: ${err.message}\nRun \`kubectl debuggrant --help\` for usage.\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`error: ${apiMessage(err)}\n`);
  process.exitCode = 1;
});
