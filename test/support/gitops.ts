// gitops-check, built once from hack/tools/gitops (hack/build-gitops-check.sh): the Argo CD
// health check under gopher-lua as Argo CD runs it, and kstatus as Flux computes it.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectl } from './cluster.ts';

const script = fileURLToPath(new URL('../../hack/build-gitops-check.sh', import.meta.url));
export const ARGOCD_CUSTOMIZATIONS = fileURLToPath(new URL('../../config/gitops/argocd/resource_customizations', import.meta.url));
export const HEALTH_LUA = join(ARGOCD_CUSTOMIZATIONS, 'debuggrant.dev/DebugGrant/health.lua');
let binary: string | undefined;

/** The gitops-check binary's path; the first call may build it (progress on stderr). */
export function ensureGitopsCheck(): string {
  binary ??= execFileSync('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
    .trim()
    .split('\n')
    .at(-1);
  if (!binary) throw new Error('hack/build-gitops-check.sh printed no path');
  return binary;
}

export function runGitopsCheck(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(ensureGitopsCheck(), args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

export interface Health {
  status: string;
  message: string;
}
export interface Verdicts {
  /** health.lua with the libraries an argocd-cm script gets (useOpenLibs off). */
  argocd: Health;
  /** health.lua with every library (as Argo CD runs a built-in script). */
  argocdOpenLibs: Health;
  /** status.Compute of sigs.k8s.io/cli-utils. */
  kstatus: Health;
  /** status.Compute of github.com/fluxcd/cli-utils, what kustomize-controller health-checks with. */
  fluxKstatus: Health;
}

/** The object as the API server returns it (kubectl get -o json, as admin), and every verdict on it. */
export async function verdictsOnLive(namespace: string, name: string): Promise<{ object: string; verdicts: Verdicts }> {
  const got = await kubectl('admin', ['get', 'debuggrants.debuggrant.dev', name, '-n', namespace, '-o', 'json']);
  if (got.code !== 0) throw new Error(`kubectl get debuggrants.debuggrant.dev ${name} -n ${namespace} failed: ${got.stderr}`);
  return { object: got.stdout, verdicts: await verdictsOf(got.stdout) };
}

export async function verdictsOf(objectJson: string): Promise<Verdicts> {
  const file = join(mkdtempSync(join(tmpdir(), 'gitops-check-')), 'object.json');
  writeFileSync(file, objectJson);
  const run = async (extra: string[]): Promise<{ argocd?: Health; kstatus: Health; fluxKstatus: Health }> => {
    const r = await runGitopsCheck(['verdicts', '--lua', HEALTH_LUA, ...extra, file]);
    if (r.code !== 0) throw new Error(`gitops-check failed (${String(r.code)}): ${r.stderr}`);
    return JSON.parse(r.stdout) as { argocd?: Health; kstatus: Health; fluxKstatus: Health };
  };
  const [plain, open] = await Promise.all([run([]), run(['--open-libs'])]);
  if (!plain.argocd || !open.argocd) throw new Error('gitops-check gave no Argo CD verdict');
  return { argocd: plain.argocd, argocdOpenLibs: open.argocd, kstatus: plain.kstatus, fluxKstatus: plain.fluxKstatus };
}
