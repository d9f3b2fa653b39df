// Which cluster the CLI talks to, resolved the way kubectl does (--kubeconfig, else
// $KUBECONFIG, else ~/.kube/config, else in-cluster), and checked before the first request so
// a broken kubeconfig is reported with its file, context and server, and what to do.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { fromKubeConfig, type KubeApi } from '../kube/client.ts';
import { str, suggest, type FlagValues } from './args.ts';
import { UsageError } from './errors.ts';

/** Where requests go: what every cluster error names. */
export interface Target {
  file: string;
  context: string;
  server: string;
  user: string;
  /** The context's namespace, else "default" (kubectl's rule). */
  namespace: string;
}

/** A failure of a request to the cluster, with where it was sent. */
export class ClusterError extends Error {
  readonly target: Target;
  constructor(target: Target, cause: unknown) {
    super('request to the cluster failed', { cause });
    this.target = target;
  }
}

/** The kubeconfig cannot be used as it is. */
export class KubeconfigError extends Error {}

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function kubeconfigFiles(flag: string | undefined): string[] {
  if (flag) return [flag];
  const env = (process.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  return env.length > 0 ? env : [join(homedir(), '.kube', 'config')];
}

export function openCluster(flags: FlagValues): { api: KubeApi; target: Target } {
  const kc = new KubeConfig();
  const files = kubeconfigFiles(str(flags, 'kubeconfig'));
  const present = files.filter((f) => existsSync(f));
  const fileText = files.join(delimiter);
  if (present.length === 0) {
    if (!str(flags, 'kubeconfig') && !process.env.KUBECONFIG && existsSync(IN_CLUSTER_TOKEN)) {
      kc.loadFromCluster();
      return finish(kc, 'in-cluster ServiceAccount');
    }
    throw new KubeconfigError(`kubeconfig ${fileText} does not exist: pass --kubeconfig FILE or set KUBECONFIG to your cluster's kubeconfig`);
  }
  for (const [i, file] of present.entries()) {
    const part = i === 0 ? kc : new KubeConfig();
    try {
      part.loadFromFile(file);
    } catch (err) {
      throw new KubeconfigError(`kubeconfig ${file} cannot be read: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (part !== kc) kc.mergeConfig(part);
  }
  const names = kc.getContexts().map((c) => c.name);
  const wanted = str(flags, 'context');
  if (wanted !== undefined) {
    if (!names.includes(wanted)) {
      const close = suggest(wanted, names);
      throw new UsageError(
        `context "${wanted}" is not in kubeconfig ${fileText}${close ? `; did you mean ${close}?` : ''} (contexts: ${names.join(', ') || 'none'})`,
      );
    }
    kc.setCurrentContext(wanted);
  }
  if (!kc.getCurrentContext() || !names.includes(kc.getCurrentContext())) {
    throw new KubeconfigError(
      `kubeconfig ${fileText} has no current context: pass --context NAME or run \`kubectl config use-context NAME\` (contexts: ${names.join(', ') || 'none'})`,
    );
  }
  return finish(kc, fileText);
}

function finish(kc: KubeConfig, file: string): { api: KubeApi; target: Target } {
  const context = kc.getContextObject(kc.getCurrentContext());
  const cluster = kc.getCurrentCluster();
  const where = `context "${kc.getCurrentContext()}" of kubeconfig ${file}`;
  if (!cluster)
    throw new KubeconfigError(`${where} names cluster "${context?.cluster ?? ''}", which the kubeconfig does not define: fix the context or add the cluster`);
  if (!cluster.server) throw new KubeconfigError(`cluster "${cluster.name}" in ${where} has no server address: set clusters[].cluster.server`);
  if (cluster.server.startsWith('http://') && !cluster.skipTLSVerify) {
    throw new KubeconfigError(`cluster "${cluster.name}" in ${where} uses plain http (${cluster.server}): use its https:// address`);
  }
  const target: Target = {
    file,
    context: kc.getCurrentContext(),
    server: cluster.server,
    user: kc.getCurrentUser()?.name ?? '',
    namespace: context?.namespace || 'default',
  };
  return { api: fromKubeConfig(kc), target };
}

/** Runs a command's requests, reporting any failure with where it was sent. */
export async function against<T>(target: Target, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new ClusterError(target, err);
  }
}
