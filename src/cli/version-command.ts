// `kubectl debuggrant version`: this CLI's version and, when the cluster answers, the API
// server's and the operator's (its Deployment's version label and image).
import { VERSION } from '../version.ts';
import { bool, str, type Invocation } from './args.ts';
import { EXIT_OK } from './spec.ts';

interface VersionReport {
  client: string;
  server?: string;
  operator?: { name: string; version: string; images: string[]; ready: number }[];
  /** Why the cluster part is missing. */
  unreachable?: string;
}

export async function runVersion(inv: Invocation): Promise<number> {
  const report: VersionReport = { client: VERSION };
  if (!bool(inv.flags, 'client')) {
    // Loaded only here: `version --client` needs no Kubernetes client.
    const [{ against, openCluster }, { operatorDeployments, serverVersion }, { describeFailure }] = await Promise.all([
      import('./connection.ts'),
      import('../kube/queries.ts'),
      import('./failures.ts'),
    ]);
    try {
      const { api, target } = openCluster(inv.flags);
      report.server = await against(target, () => serverVersion(api));
      report.operator = await against(target, () => operatorDeployments(api, str(inv.flags, 'operator-namespace') ?? 'debuggrant-system'));
    } catch (err) {
      report.unreachable = describeFailure(err);
    }
  }
  const format = str(inv.flags, 'output');
  if (format === 'json') process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else if (format === 'yaml')
    process.stdout.write((await import('./yaml-text.ts')).yamlText(report)); // yaml: 100 KiB `--client` rarely needs
  else process.stdout.write(formatVersion(report));
  return EXIT_OK;
}

function formatVersion(r: VersionReport): string {
  const lines = [`Client Version: ${r.client}`];
  if (r.server) lines.push(`Kubernetes Version: ${r.server}`);
  for (const d of r.operator ?? []) {
    lines.push(`Operator Version: ${d.version || '(unlabelled)'} (deployment ${d.name}, ${String(d.ready)} ready, image ${d.images.join(', ')})`);
  }
  if (r.operator?.length === 0) lines.push('Operator Version: no debuggrant operator Deployment found (see --operator-namespace)');
  if (r.unreachable) lines.push(`Operator Version: unknown (${r.unreachable})`);
  return lines.join('\n') + '\n';
}
