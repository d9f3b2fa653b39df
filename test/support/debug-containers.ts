// Ephemeral containers shaped like `kubectl debug --profile=…` sends them, and the real
// PATCH it makes (strategic merge on pods/ephemeralcontainers), as a given user.
import * as k8s from '@kubernetes/client-node';
import type { LocalUserName } from '../../hack/controlplane/users.ts';
import type { Profile } from '../../src/api/schema.ts';
import { clientsFor } from './cluster.ts';
import { DEBUG_IMAGE } from './policy.ts';

export const PROFILE_SECURITY_CONTEXT: Record<Profile, k8s.V1SecurityContext> = {
  general: { capabilities: { add: ['SYS_PTRACE'] } },
  baseline: {},
  restricted: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  netadmin: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
  sysadmin: { privileged: true },
};

export function debugContainer(name: string, image: string, profile: Profile, extra: Partial<k8s.V1EphemeralContainer> = {}): k8s.V1EphemeralContainer {
  return {
    name,
    image,
    stdin: true,
    tty: true,
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
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

/** Who sends a request: a local user, or anyone the admin impersonates (plus system:authenticated). */
export type Requester = LocalUserName | { user: string; groups: string[] };

/** How a request to pods/ephemeralcontainers is shaped; see test/support/ephemeral-catalogue.ts. */
export type RequestShape = 'strategic' | 'merge' | 'json' | 'put' | 'apply';

export interface EphemeralRequest {
  as: Requester;
  namespace: string;
  pod: string;
  container: k8s.V1EphemeralContainer;
  shape: RequestShape;
  /** '' sends none (the API server derives one from the user agent). */
  fieldManager?: string;
  /** managedFields the request carries (a forgery attempt). */
  managedFields?: k8s.V1ManagedFieldsEntry[];
}

function requesterOptions(as: Requester, contentType?: string): { api: k8s.CoreV1Api; options: ReturnType<typeof k8s.setHeaderOptions> | undefined } {
  let options = contentType ? k8s.setHeaderOptions('Content-Type', contentType) : undefined;
  if (typeof as === 'string') return { api: clientsFor(as).core, options };
  options = k8s.setHeaderOptions('Impersonate-User', as.user, options);
  for (const g of as.groups) options = k8s.setHeaderOptions('Impersonate-Group', g, options);
  return { api: clientsFor('admin').core, options };
}

/** Adds one ephemeral container the way `shape` says; resolves to the pod as written. */
export async function sendEphemeral(r: EphemeralRequest): Promise<k8s.V1Pod> {
  const fieldManager = r.fieldManager === '' ? undefined : (r.fieldManager ?? 'kubectl');
  const at = { namespace: r.namespace, name: r.pod, fieldManager };
  const current = async (): Promise<k8s.V1Pod> => clientsFor('admin').core.readNamespacedPod({ namespace: r.namespace, name: r.pod });
  const forged = r.managedFields ? { managedFields: r.managedFields } : {};
  switch (r.shape) {
    case 'strategic': {
      const { api, options } = requesterOptions(r.as, k8s.PatchStrategy.StrategicMergePatch);
      return api.patchNamespacedPodEphemeralcontainers({ ...at, body: { metadata: forged, spec: { ephemeralContainers: [r.container] } } }, options);
    }
    case 'merge': {
      const list = [...((await current()).spec?.ephemeralContainers ?? []), r.container];
      const { api, options } = requesterOptions(r.as, k8s.PatchStrategy.MergePatch);
      return api.patchNamespacedPodEphemeralcontainers({ ...at, body: { metadata: forged, spec: { ephemeralContainers: list } } }, options);
    }
    case 'json': {
      const list = [...((await current()).spec?.ephemeralContainers ?? []), r.container];
      const ops: object[] = [{ op: 'add', path: '/spec/ephemeralContainers', value: list }];
      if (r.managedFields) ops.push({ op: 'replace', path: '/metadata/managedFields', value: r.managedFields });
      const { api, options } = requesterOptions(r.as, k8s.PatchStrategy.JsonPatch);
      return api.patchNamespacedPodEphemeralcontainers({ ...at, body: ops }, options);
    }
    case 'put': {
      const pod = await current();
      pod.spec = { ...pod.spec, containers: pod.spec?.containers ?? [], ephemeralContainers: [...(pod.spec?.ephemeralContainers ?? []), r.container] };
      if (r.managedFields) pod.metadata = { ...pod.metadata, managedFields: r.managedFields };
      const { api, options } = requesterOptions(r.as);
      return api.replaceNamespacedPodEphemeralcontainers({ ...at, body: pod }, options);
    }
    case 'apply': {
      const { api, options } = requesterOptions(r.as, k8s.PatchStrategy.ServerSideApply);
      const body = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: r.pod, namespace: r.namespace, ...forged },
        spec: { ephemeralContainers: [r.container] },
      };
      return api.patchNamespacedPodEphemeralcontainers({ ...at, fieldManager: fieldManager ?? 'apply', body }, options);
    }
  }
}

const user = (name: string): k8s.RbacV1Subject => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name });
/** RBAC subjects: users by name, `group:NAME` for a group. */
export const subjects = (...names: string[]): k8s.RbacV1Subject[] =>
  names.map((n) => (n.startsWith('group:') ? { ...user(n.slice('group:'.length)), kind: 'Group' } : user(n)));

/** A Role with `rules` bound to `who`, made by the admin (access outside any grant). */
export async function bindRole(namespace: string, name: string, rules: k8s.V1PolicyRule[], who: k8s.RbacV1Subject[]): Promise<void> {
  const admin = clientsFor('admin');
  await admin.rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
  await admin.rbac.createNamespacedRoleBinding({
    namespace,
    body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: who },
  });
}

/** Standing rights to add ephemeral containers to any pod, so a refusal is the policy's, not RBAC's. */
export const standingDebugRbac = (namespace: string, who: k8s.RbacV1Subject[]): Promise<void> =>
  bindRole(namespace, 'legacy-debug', [{ apiGroups: [''], resources: ['pods', 'pods/ephemeralcontainers'], verbs: ['get', 'patch', 'update'] }], who);

/** The kubelet's report of one ephemeral container: running since, or started and finished with an exit code. */
export function kubeletState(container: string, started: Date, finished?: { at: Date; exitCode: number }): k8s.V1ContainerStatus {
  return {
    name: container,
    image: DEBUG_IMAGE,
    imageID: DEBUG_IMAGE,
    ready: false,
    restartCount: 0,
    containerID: `containerd://${'c'.repeat(64)}`,
    state: finished
      ? { terminated: { exitCode: finished.exitCode, reason: finished.exitCode === 0 ? 'Completed' : 'Error', startedAt: started, finishedAt: finished.at } }
      : { running: { startedAt: started } },
  };
}

/** The kubelet's times are whole seconds. */
export const second = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);
