// Installs the project's CRDs into a control plane with our kubectl and waits until
// the API server serves them.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { renderAdmissionPolicies, type AdmissionSettings } from '../../src/admission/render.ts';
import type { PlaneState } from './plane.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function kubectlAs(state: PlaneState, context: string, args: string[], input?: string): string {
  return execFileSync(state.kubectl, ['--kubeconfig', state.kubeconfig, '--context', context, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/**
 * The CRDs and who may write and read grants (config/rbac/grant-roles.yaml); the local
 * users' requesters (group engineers) opt in to reading grants (config/samples/viewers.yaml).
 */
export function installCrds(state: PlaneState): void {
  kubectlAs(state, 'admin', ['apply', '--server-side', '-k', `${REPO_ROOT}crds/`]);
  kubectlAs(state, 'admin', ['apply', '--server-side', '-f', `${REPO_ROOT}config/rbac/grant-roles.yaml`]);
  kubectlAs(state, 'admin', ['apply', '--server-side', '-f', `${REPO_ROOT}config/samples/viewers.yaml`]);
  // The operator's own namespace (config/manager): its Lease and the record of spent grant names.
  kubectlAs(state, 'admin', ['apply', '--server-side', '-f', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata: {name: debuggrant-system}\n');
  kubectlAs(state, 'admin', [
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/debuggrants.debuggrant.dev',
    'crd/debuggrantindexes.debuggrant.dev',
    'crd/debuggranthistories.debuggrant.dev',
  ]);
}

/** The ValidatingAdmissionPolicies of config/admission, filled in from `settings`. */
export function installAdmission(state: PlaneState, settings: AdmissionSettings): void {
  const docs = renderAdmissionPolicies(settings)
    .map((d) => stringify(d))
    .join('---\n');
  kubectlAs(state, 'admin', ['apply', '--server-side', '-f', '-'], docs);
}
