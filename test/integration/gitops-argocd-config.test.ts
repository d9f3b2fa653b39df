// The Argo CD health check reaches argocd-cm the ways docs/gitops.md gives, against the real
// API server: the chart's argocd.healthCheck ConfigMap merged by the command its release notes
// print, and config/gitops/argocd/argocd-cm.yaml applied server-side; both add the one key
// and keep every key Argo CD's argocd-cm already had.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../hack/controlplane/install.ts';
import { freshNamespace, kubectl, plane } from '../support/cluster.ts';
import { ensureHelm, helm } from '../support/helm.ts';
import { HEALTH_LUA } from '../support/gitops.ts';

const KEY = 'resource.customizations.health.debuggrant.dev_DebugGrant';
const lua = readFileSync(HEALTH_LUA, 'utf8');

async function argocdCm(ns: string): Promise<Record<string, string>> {
  const got = await kubectl('admin', ['get', 'configmap', 'argocd-cm', '-n', ns, '-o', 'json']);
  expect(got.stderr).toBe('');
  return (JSON.parse(got.stdout) as { data: Record<string, string> }).data;
}

describe('the Argo CD health check into argocd-cm', () => {
  // The first run may build helm (a one-off; .ci/run builds it up front).
  beforeAll(() => {
    ensureHelm();
  }, 30 * 60_000);

  test("chart: argocd.healthCheck renders the key, and the release notes' command merges it into argocd-cm", async () => {
    const release = await freshNamespace('dg-argocd-chart');
    const argocd = await freshNamespace('argocd-chart');
    expect((await kubectl('admin', ['create', 'configmap', 'argocd-cm', '-n', argocd, '--from-literal=url=https://argo.example.com'])).code).toBe(0);
    const rendered = await helm([
      'template',
      'dg',
      join(REPO_ROOT, 'charts/debuggrant'),
      '-n',
      release,
      '--set',
      'argocd.healthCheck=true',
      '-s',
      'templates/argocd.yaml',
    ]);
    expect(rendered.code).toBe(0);
    const [cm] = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as { data: Record<string, string> });
    expect(cm?.data[KEY]).toBe(lua);
    expect((await kubectl('admin', ['apply', '-n', release, '-f', '-'], rendered.stdout)).code).toBe(0);
    // Off by default: nothing rendered.
    expect((await helm(['template', 'dg', join(REPO_ROOT, 'charts/debuggrant'), '-n', release])).stdout).not.toContain(KEY);

    // The release notes, as `helm install` prints them, run as printed (our kubectl, this namespace).
    const notes = await helm(['install', 'dg', join(REPO_ROOT, 'charts/debuggrant'), '-n', release, '--set', 'argocd.healthCheck=true', '--dry-run=client']);
    const command = notes.stdout
      .split('\n')
      .find((l) => l.includes('patch configmap argocd-cm'))
      ?.trim();
    expect(command).toBeDefined();
    const p = plane();
    const kubectlCmd = `${p.kubectl} --kubeconfig ${p.kubeconfig} --context admin`;
    const shell = (command ?? '').replaceAll('kubectl ', `${kubectlCmd} `).replace('-n argocd ', `-n ${argocd} `);
    execFileSync('bash', ['-c', shell], { encoding: 'utf8' });
    const data = await argocdCm(argocd);
    expect(data).toEqual({ url: 'https://argo.example.com', [KEY]: lua });
  });

  test("argocd-cm.yaml applied server-side adds the key and keeps Argo CD's own", async () => {
    // The file names the argocd namespace, as Argo CD installs it.
    await kubectl('admin', ['create', 'namespace', 'argocd']);
    try {
      expect((await kubectl('admin', ['create', 'configmap', 'argocd-cm', '-n', 'argocd', '--from-literal=url=https://argo.example.com'])).code).toBe(0);
      const applied = await kubectl('admin', [
        'apply',
        '--server-side',
        '--field-manager=debuggrant-health',
        '-f',
        join(REPO_ROOT, 'config/gitops/argocd/argocd-cm.yaml'),
      ]);
      expect(applied.stderr).toBe('');
      expect(await argocdCm('argocd')).toEqual({ url: 'https://argo.example.com', [KEY]: lua });
    } finally {
      await kubectl('admin', ['delete', 'namespace', 'argocd', '--wait=false']);
    }
  });
});
