// The commands that talk to the cluster: list, revoke, debug, audit.
import { spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import { API_VERSION, GROUP, KIND, PLURAL } from '../api/schema.ts';
import { isTerminal } from '../api/types.ts';
import { getGrant, listGrants, readRbac, requestRevocation, whoAmI } from '../kube/queries.ts';
import { isNotFoundStatus } from '../runtime/errors.ts';
import { bool, str, type FlagValues, type Invocation } from './args.ts';
import { auditRbac, formatAudit } from './audit.ts';
import { against, openCluster, type Target } from './connection.ts';
import { deadlineSeconds } from './deadline.ts';
import { UsageError } from './errors.ts';
import { formatGrantRows, grantRows, grantsCovering } from './grants-view.ts';
import { EXIT_OK, EXIT_PROBLEMS } from './spec.ts';

const progress = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};
const namespaceOf = (f: FlagValues, t: Target): string => str(f, 'namespace') ?? t.namespace;

/** json and yaml print the objects themselves, as kubectl does. */
function printObjects(format: string | undefined, value: unknown): boolean {
  if (format === 'json') process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else if (format === 'yaml') process.stdout.write(stringify(value));
  else return false;
  return true;
}

export async function runList(inv: Invocation): Promise<number> {
  const { api, target } = openCluster(inv.flags);
  const all = bool(inv.flags, 'all-namespaces');
  const namespace = all ? undefined : namespaceOf(inv.flags, target);
  const grants = await against(target, () => listGrants(api, namespace, str(inv.flags, 'selector')));
  const format = str(inv.flags, 'output');
  if (printObjects(format, { apiVersion: 'v1', kind: 'List', items: grants.map((g) => ({ apiVersion: API_VERSION, kind: KIND, ...g })) })) return EXIT_OK;
  if (format === 'name') {
    process.stdout.write(grants.map((g) => `debuggrant.${GROUP}/${g.metadata.name ?? ''}\n`).join(''));
    return EXIT_OK;
  }
  if (grants.length === 0) {
    process.stderr.write(all ? 'No DebugGrants found.\n' : `No DebugGrants found in ${namespace ?? ''} namespace.\n`);
    return EXIT_OK;
  }
  process.stdout.write(formatGrantRows(grantRows(grants, Date.now()), { wide: format === 'wide', namespaces: all }));
  return EXIT_OK;
}

export async function runRevoke(inv: Invocation): Promise<number> {
  const [name, ...extra] = inv.positionals;
  if (!name || extra.length > 0) throw new UsageError('revoke takes one grant NAME');
  const { api, target } = openCluster(inv.flags);
  const ns = namespaceOf(inv.flags, target);
  return against(target, async () => {
    const [me, grant] = await Promise.all([
      whoAmI(api),
      getGrant(api, ns, name).catch((err: unknown) => {
        if (isNotFoundStatus(err, PLURAL))
          throw new UsageError(`there is no DebugGrant ${name} in namespace ${ns}: \`kubectl debuggrant list -n ${ns}\` shows the grants there`);
        throw err;
      }),
    ]);
    const phase = grant.status?.phase;
    if (isTerminal(phase)) {
      const ended = grant.status?.endedAt ? ` at ${grant.status.endedAt}` : '';
      process.stdout.write(`${ns}/${name} already ended (${phase ?? ''}${ended}); nothing changed.\n`);
      return EXIT_OK;
    }
    await requestRevocation(api, grant, me.username, str(inv.flags, 'reason') ?? '');
    process.stdout.write(
      `revocation of ${ns}/${name} requested by ${me.username}; the operator removes its access now ` +
        `(\`kubectl get dg ${name} -n ${ns}\` shows phase Revoked).\n` +
        "GitOps follow-up: delete the grant's file from the repository in a pull request. A revoked grant never becomes\n" +
        'active again, even if re-applied; asking for access again takes a new grant with a new name.\n',
    );
    return EXIT_OK;
  });
}

export async function runDebug(inv: Invocation): Promise<number> {
  const [pod, ...extra] = inv.positionals;
  if (!pod || extra.length > 0) throw new UsageError('debug takes one POD name (kubectl debug flags go after --)');
  const { api, target } = openCluster(inv.flags);
  const ns = namespaceOf(inv.flags, target);
  progress('looking up your active grants…');
  const [me, grants] = await against(target, () => Promise.all([whoAmI(api), listGrants(api, ns)]));
  const wanted = str(inv.flags, 'grant');
  const covering = grantsCovering(grants, pod, me).filter((c) => !wanted || c.grant.metadata.name === wanted);
  if (covering.length === 0) throw new UsageError(`${me.username} has no active DebugGrant covering ${ns}/${pod}: open one with \`kubectl debuggrant new\``);
  const [chosen, ...others] = covering;
  if (!chosen || others.length > 0)
    throw new UsageError(`several grants cover ${ns}/${pod}: choose one with --grant (${covering.map((c) => c.grant.metadata.name).join(', ')})`);
  const kubectl = str(inv.flags, 'kubectl') ?? process.env.KUBECTL ?? 'kubectl';
  const targetContainer = str(inv.flags, 'target');
  deadlineSeconds(chosen.grant.status?.expiresAt, new Date());
  // The API server wraps the container's command with the grant's deadline (session-deadline.yaml).
  const kubectlArgs = [
    ...(str(inv.flags, 'kubeconfig') ? ['--kubeconfig', str(inv.flags, 'kubeconfig') ?? ''] : []),
    '--context',
    target.context,
    '-n',
    ns,
    'debug',
    pod,
    `--image=${chosen.image}`,
    `--profile=${chosen.profile}`,
    ...(targetContainer ? [`--target=${targetContainer}`] : []),
    ...(bool(inv.flags, 'no-attach') ? [] : ['-it']),
    ...inv.passthrough,
  ];
  progress(`using grant ${ns}/${chosen.grant.metadata.name ?? ''}: ${kubectl} ${kubectlArgs.join(' ')}`);
  const result = spawnSync(kubectl, kubectlArgs, { stdio: 'inherit' });
  if (result.error) throw new UsageError(`cannot run ${kubectl}: ${result.error.message} (pass --kubectl PATH or set KUBECTL)`);
  return result.status ?? EXIT_PROBLEMS;
}

export async function runAudit(inv: Invocation): Promise<number> {
  const { api, target } = openCluster(inv.flags);
  progress('reading RBAC…');
  const findings = auditRbac(await against(target, () => readRbac(api)), bool(inv.flags, 'include-system'));
  if (!printObjects(str(inv.flags, 'output'), findings)) process.stdout.write(formatAudit(findings));
  return EXIT_OK;
}
