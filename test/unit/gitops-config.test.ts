// The Argo CD health check is shipped twice (Argo CD's layout, and the argocd-cm snippet);
// one source of truth: the snippet carries health.lua verbatim.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const file = (p: string): string => readFileSync(new URL(`../../config/gitops/argocd/${p}`, import.meta.url), 'utf8');

test('argocd-cm.yaml holds health.lua verbatim under resource.customizations.health.debuggrant.dev_DebugGrant', () => {
  const cm = parse(file('argocd-cm.yaml')) as { metadata: { name: string; labels: Record<string, string> }; data: Record<string, string> };
  expect(cm.metadata.name).toBe('argocd-cm');
  // Argo CD reads only the argocd-cm that carries this label.
  expect(cm.metadata.labels['app.kubernetes.io/part-of']).toBe('argocd');
  expect(Object.keys(cm.data)).toEqual(['resource.customizations.health.debuggrant.dev_DebugGrant']);
  expect(cm.data['resource.customizations.health.debuggrant.dev_DebugGrant']).toBe(file('resource_customizations/debuggrant.dev/DebugGrant/health.lua'));
});
