// Ephemeral containers shaped like `kubectl debug --profile=…` sends them, and the real
// PATCH it makes (strategic merge on pods/ephemeralcontainers), as a given user.
import * as k8s from '@kubernetes/client-node';
import type { LocalUserName } from '../../hack/controlplane/users.ts';
import type { Profile } from '../../src/api/schema.ts';
import { clientsFor } from './cluster.ts';

export const PROFILE_SECURITY_CONTEXT: Record<Profile, k8s.V1SecurityContext> = {
  general: { capabilities: { add: ['SYS_PTRACE'] } },
  baseline: {},
  restricted: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  netadmin: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
  sysadmin: { privileged: true },
};

export function debugContainer(name: string, image: string, profile: Profile, extra: Partial<k8s.V1EphemeralContainer> = {}): k8s.V1EphemeralContainer {
  return {
    name, image, stdin: true, tty: true, terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent',
    securityContext: structuredClone(PROFILE_SECURITY_CONTEXT[profile]),
    ...extra,
  };
}

export function addEphemeralContainer(user: LocalUserName, namespace: string, pod: string, container: k8s.V1EphemeralContainer): Promise<k8s.V1Pod> {
  return clientsFor(user).core.patchNamespacedPodEphemeralcontainers(
    { namespace, name: pod, body: { spec: { ephemeralContainers: [container] } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
  );
}
