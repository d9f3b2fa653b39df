// The catalogue of bad ephemeral-container requests: each names the check that refuses it
// and the message it is refused with. The integration test sends every one to the real API
// server as the subject; a unit test keeps README's table of checks, this catalogue and the
// policy YAML in agreement.
import type * as k8s from '@kubernetes/client-node';
import type { Profile } from '../../src/api/schema.ts';
import { PROFILE_SECURITY_CONTEXT } from './debug-containers.ts';
import { APPROVED_REGISTRY, DEBUG_IMAGE } from './policy.ts';

/** What the ephemeral-containers policy checks, each with the words its refusal contains (README's table). */
export const CHECKS = {
  grant: 'no active DebugGrant lets',
  deadline: 'expired at',
  image: 'image must be',
  'host-namespaces': 'shares the host namespaces (hostPID/hostNetwork/hostIPC): only the sysadmin profile may debug it',
  privileged: 'privileged ephemeral containers need the sysadmin profile',
  'privilege-escalation': 'allowPrivilegeEscalation must be false (the restricted profile requires it to be set; only sysadmin may allow it)',
  capabilities: 'go beyond the profile of the matching grant',
  'drop-all': 'the restricted profile requires capabilities.drop: [ALL] (kubectl debug --profile=restricted sets it)',
  'non-root': 'the restricted profile requires runAsNonRoot: true and no runAsUser 0 (kubectl debug --profile=restricted sets it)',
  seccomp:
    "seccompProfile (the container's, else the pod's) must not be Unconfined (only sysadmin may), and the restricted profile requires RuntimeDefault or Localhost",
  apparmor: "appArmorProfile (the container's, else the pod's) must not be Unconfined (only sysadmin may)",
  selinux: 'seLinuxOptions may not set user or role, and type only to container_t, container_init_t, container_kvm_t or container_engine_t (only sysadmin may)',
  never: 'procMount: Unmasked, Windows hostProcess and GMSA credential specs are never allowed',
  volumes: 'ephemeral containers may not mount volumes or read their files',
  'secrets-configmaps': 'ephemeral containers may not read Secrets or ConfigMaps through env or envFrom',
} as const;
export type CheckId = keyof typeof CHECKS;
/** Requests the API server refuses itself, before any admission policy (its own validation). */
export const API_SERVER = 'api-server';

export const NET_IMAGE = `${APPROVED_REGISTRY}tcpdump@sha256:${'1'.repeat(64)}`;
export const SYS_IMAGE = `${APPROVED_REGISTRY}toolbox@sha256:${'2'.repeat(64)}`;
export const OTHER_IMAGE = `${APPROVED_REGISTRY}other@sha256:${'3'.repeat(64)}`;

/** A local user, or anyone the admin impersonates (they get system:authenticated too). */
export type Identity = 'alice' | 'bob' | 'carol' | { user: string; groups: string[] };

/**
 * How the request is sent: kubectl debug's strategic merge patch, a merge patch or JSON patch
 * of the whole list, a PUT of the whole pod, or server-side apply; all to pods/ephemeralcontainers.
 */
export type Shape = 'strategic' | 'merge' | 'json' | 'put' | 'apply';

/**
 * Which fixture namespace: the catalogue's, a second one with only bob's grant, one the operator
 * serves where no grant was ever made, one no operator serves (no index at all).
 */
export type Place = 'main' | 'other' | 'served' | 'no-index';

export interface CatalogueCase {
  what: string;
  check: CheckId | typeof API_SERVER;
  as: Identity;
  pod: string;
  place?: Place;
  shape?: Shape;
  container: Partial<k8s.V1EphemeralContainer>;
  /** A fragment of the refusal; `{ns}` stands for the namespace. */
  message: string;
}

let seq = 0;
/** A container as `kubectl debug --profile=…` sends it, with a unique name, changed by `over`. */
export function shaped(
  profile: Profile,
  image: string,
  over: Partial<k8s.V1EphemeralContainer> = {},
  security: k8s.V1SecurityContext = {},
): Partial<k8s.V1EphemeralContainer> {
  return {
    name: `cat-${String(seq++)}`,
    image,
    stdin: true,
    tty: true,
    terminationMessagePolicy: 'File',
    securityContext: { ...structuredClone(PROFILE_SECURITY_CONTEXT[profile]), ...security },
    ...over,
  };
}

const restricted = (security: k8s.V1SecurityContext, over: Partial<k8s.V1EphemeralContainer> = {}) => shaped('restricted', DEBUG_IMAGE, over, security);
const withoutSecurity = (profile: Profile, image: string, drop: (keyof k8s.V1SecurityContext)[], add: k8s.V1SecurityContext = {}) => {
  const c = shaped(profile, image, {}, add);
  for (const k of drop) delete c.securityContext?.[k];
  return c;
};
const restrictedCaps = (add: string[], drop = ['ALL']) => restricted({ capabilities: { drop, add } });

// Grants of the main namespace (see the integration test's fixture):
//   alice-web    User alice, restricted, DEBUG_IMAGE, pods app=web
//   alice-base   User alice, baseline,   DEBUG_IMAGE, pods app=base
//   engineers-net Group engineers, netadmin, NET_IMAGE, pods app=net
//   alice-general User alice, general,  SYS_IMAGE,   pods app=gen
//   carol-sys    User carol, sysadmin,   SYS_IMAGE,   pods app=sys
const grantRef = (grant: string, profile: Profile) => `{ns}/${grant} (profile ${profile})`;
const WEB = grantRef('alice-web', 'restricted');
const BASE = grantRef('alice-base', 'baseline');
const NET = grantRef('engineers-net', 'netadmin');
const GEN = grantRef('alice-general', 'general');
const SYS = grantRef('carol-sys', 'sysadmin');
const profileMessage = (check: CheckId, grant: string) => `${CHECKS[check]}${check === 'capabilities' ? ` ${grant}` : `; the matching grant is ${grant}`}`;

const perProfile = (profile: Profile, as: Identity, pod: string, image: string, grant: string): CatalogueCase[] => {
  const c = (what: string, check: CheckId, security: k8s.V1SecurityContext): CatalogueCase => ({
    what: `${profile}: ${what}`,
    check,
    as,
    pod,
    container: shaped(profile, image, {}, security),
    message: profileMessage(check, grant),
  });
  return [
    c('privileged', 'privileged', { privileged: true }),
    c('allowPrivilegeEscalation: true', 'privilege-escalation', { allowPrivilegeEscalation: true }),
    c('SYS_ADMIN', 'capabilities', { capabilities: { add: ['SYS_ADMIN'] } }),
    c('BPF', 'capabilities', { capabilities: { add: ['BPF'] } }),
    c('ALL capabilities', 'capabilities', { capabilities: { add: ['ALL'] } }),
    ...(profile === 'general' ? [] : [c('SYS_PTRACE', 'capabilities', { capabilities: { add: ['SYS_PTRACE'] } })]),
    ...(profile === 'netadmin' ? [] : [c('NET_ADMIN', 'capabilities', { capabilities: { add: ['NET_ADMIN'] } })]),
    c('seccomp Unconfined', 'seccomp', { seccompProfile: { type: 'Unconfined' } }),
    c('AppArmor Unconfined', 'apparmor', { appArmorProfile: { type: 'Unconfined' } }),
    c('SELinux user', 'selinux', { seLinuxOptions: { user: 'system_u' } }),
    c('SELinux role', 'selinux', { seLinuxOptions: { role: 'system_r' } }),
    c('SELinux type spc_t', 'selinux', { seLinuxOptions: { type: 'spc_t' } }),
  ];
};

export const CATALOGUE: CatalogueCase[] = [
  // Identities and places
  {
    what: 'a user with no grant',
    check: 'grant',
    as: 'bob',
    pod: 'web-1',
    container: restricted({}),
    message: 'no active DebugGrant lets bob add ephemeral containers to pod {ns}/web-1',
  },
  {
    what: 'a pod no grant selects',
    check: 'grant',
    as: 'alice',
    pod: 'lone-1',
    container: restricted({}),
    message: 'no active DebugGrant lets alice add ephemeral containers to pod {ns}/lone-1',
  },
  {
    what: 'the grant of another namespace',
    check: 'grant',
    as: 'alice',
    pod: 'web-1',
    place: 'other',
    container: restricted({}),
    message: 'no active DebugGrant lets alice',
  },
  {
    what: 'a ServiceAccount of the namespace',
    check: 'grant',
    as: { user: 'system:serviceaccount:{ns}:default', groups: ['system:serviceaccounts'] },
    pod: 'web-1',
    container: restricted({}),
    message: 'no active DebugGrant lets system:serviceaccount:',
  },
  {
    what: 'a user named like the granted group',
    check: 'grant',
    as: { user: 'engineers', groups: [] },
    pod: 'net-1',
    container: shaped('netadmin', NET_IMAGE),
    message: 'no active DebugGrant lets engineers',
  },
  {
    what: 'a user outside the granted group',
    check: 'grant',
    as: 'carol',
    pod: 'net-1',
    container: shaped('netadmin', NET_IMAGE),
    message: 'no active DebugGrant lets carol',
  },
  {
    what: "the subject's name in another case",
    check: 'grant',
    as: { user: 'Alice', groups: [] },
    pod: 'web-1',
    container: restricted({}),
    message: 'no active DebugGrant lets Alice',
  },
  {
    what: 'a group that only resembles break-glass',
    check: 'grant',
    as: { user: 'mallory', groups: ['debuggrant:break-glass-x'] },
    pod: 'web-1',
    container: restricted({}),
    message: 'no active DebugGrant lets mallory',
  },
  {
    what: 'a group only resembling system:masters',
    check: 'grant',
    as: { user: 'mallory', groups: ['system:master'] },
    pod: 'web-1',
    container: restricted({}),
    message: 'no active DebugGrant lets mallory',
  },
  {
    what: 'a group grant for a pod it does not select',
    check: 'grant',
    as: 'bob',
    pod: 'web-1',
    container: shaped('netadmin', NET_IMAGE),
    message: 'no active DebugGrant lets bob',
  },
  {
    what: 'a namespace served by the operator where no grant was ever made',
    check: 'grant',
    as: 'alice',
    pod: 'web-1',
    place: 'served',
    container: restricted({}),
    message: 'no active DebugGrant lets alice add ephemeral containers to pod {ns}/web-1: ask for one through a pull request',
  },
  {
    what: 'a namespace no operator serves (no index)',
    check: 'grant',
    as: 'alice',
    pod: 'web-1',
    place: 'no-index',
    container: restricted({}),
    message: 'failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction',
  },
  // Images
  {
    what: 'another approved image',
    check: 'image',
    as: 'alice',
    pod: 'web-1',
    container: shaped('restricted', OTHER_IMAGE),
    message: `image must be ${DEBUG_IMAGE} as granted by {ns}/alice-web, not ${OTHER_IMAGE}`,
  },
  {
    what: 'a tag instead of the digest',
    check: 'image',
    as: 'alice',
    pod: 'web-1',
    container: shaped('restricted', `${APPROVED_REGISTRY}netshoot:latest`),
    message: 'not registry.example.com/debug/netshoot:latest',
  },
  {
    what: 'tag and digest',
    check: 'image',
    as: 'alice',
    pod: 'web-1',
    container: shaped('restricted', DEBUG_IMAGE.replace('@', ':v1@')),
    message: 'image must be',
  },
  {
    what: 'the digest from another registry',
    check: 'image',
    as: 'alice',
    pod: 'web-1',
    container: shaped('restricted', `docker.io/nicolaka/netshoot@sha256:${'c'.repeat(64)}`),
    message: 'not docker.io/nicolaka/netshoot',
  },
  {
    what: 'the digest with an explicit docker.io prefix',
    check: 'image',
    as: 'alice',
    pod: 'web-1',
    container: shaped('restricted', `docker.io/${DEBUG_IMAGE}`),
    message: 'image must be',
  },
  {
    what: 'the digest in upper case',
    check: 'image',
    as: 'alice',
    pod: 'web-1',
    container: shaped('restricted', `${APPROVED_REGISTRY}netshoot@sha256:${'C'.repeat(64)}`),
    message: 'image must be',
  },
  {
    what: "the image of another profile's grant",
    check: 'image',
    as: 'bob',
    pod: 'net-1',
    container: shaped('netadmin', DEBUG_IMAGE),
    message: `image must be ${NET_IMAGE}`,
  },
  {
    what: 'sysadmin with the wrong image',
    check: 'image',
    as: 'carol',
    pod: 'sys-1',
    container: shaped('sysadmin', DEBUG_IMAGE),
    message: `image must be ${SYS_IMAGE}`,
  },
  // restricted: every securityContext field
  {
    what: 'restricted: privileged',
    check: 'privileged',
    as: 'alice',
    pod: 'web-1',
    container: withoutSecurity('restricted', DEBUG_IMAGE, ['allowPrivilegeEscalation'], { privileged: true }),
    message: profileMessage('privileged', WEB),
  },
  {
    what: 'restricted: allowPrivilegeEscalation true',
    check: 'privilege-escalation',
    as: 'alice',
    pod: 'web-1',
    container: restricted({ allowPrivilegeEscalation: true }),
    message: profileMessage('privilege-escalation', WEB),
  },
  {
    what: 'restricted: allowPrivilegeEscalation unset',
    check: 'privilege-escalation',
    as: 'alice',
    pod: 'web-1',
    container: withoutSecurity('restricted', DEBUG_IMAGE, ['allowPrivilegeEscalation']),
    message: profileMessage('privilege-escalation', WEB),
  },
  {
    what: 'restricted: SYS_ADMIN',
    check: 'capabilities',
    as: 'alice',
    pod: 'web-1',
    container: restrictedCaps(['SYS_ADMIN']),
    message: profileMessage('capabilities', WEB),
  },
  {
    what: 'restricted: NET_ADMIN',
    check: 'capabilities',
    as: 'alice',
    pod: 'web-1',
    container: restrictedCaps(['NET_ADMIN']),
    message: 'capabilities NET_ADMIN go beyond',
  },
  {
    what: 'restricted: NET_RAW',
    check: 'capabilities',
    as: 'alice',
    pod: 'web-1',
    container: restrictedCaps(['NET_RAW']),
    message: 'capabilities NET_RAW go beyond',
  },
  {
    what: 'restricted: CHOWN (baseline, not restricted)',
    check: 'capabilities',
    as: 'alice',
    pod: 'web-1',
    container: restrictedCaps(['CHOWN']),
    message: 'capabilities CHOWN go beyond',
  },
  {
    what: 'restricted: CAP_-prefixed SYS_PTRACE',
    check: 'capabilities',
    as: 'alice',
    pod: 'web-1',
    container: restrictedCaps(['CAP_SYS_PTRACE']),
    message: 'capabilities CAP_SYS_PTRACE go beyond',
  },
  {
    what: 'restricted: ALL capabilities',
    check: 'capabilities',
    as: 'alice',
    pod: 'web-1',
    container: restrictedCaps(['ALL']),
    message: 'capabilities ALL go beyond',
  },
  {
    what: 'restricted: capabilities not dropped',
    check: 'drop-all',
    as: 'alice',
    pod: 'web-1',
    container: withoutSecurity('restricted', DEBUG_IMAGE, ['capabilities']),
    message: profileMessage('drop-all', WEB),
  },
  {
    what: 'restricted: only NET_RAW dropped',
    check: 'drop-all',
    as: 'alice',
    pod: 'web-1',
    container: restrictedCaps([], ['NET_RAW']),
    message: CHECKS['drop-all'],
  },
  {
    what: 'restricted: runAsNonRoot false',
    check: 'non-root',
    as: 'alice',
    pod: 'web-1',
    container: restricted({ runAsNonRoot: false }),
    message: profileMessage('non-root', WEB),
  },
  {
    what: 'restricted: runAsNonRoot unset (and unset on the pod)',
    check: 'non-root',
    as: 'alice',
    pod: 'web-1',
    container: withoutSecurity('restricted', DEBUG_IMAGE, ['runAsNonRoot']),
    message: CHECKS['non-root'],
  },
  { what: 'restricted: runAsUser 0', check: 'non-root', as: 'alice', pod: 'web-1', container: restricted({ runAsUser: 0 }), message: CHECKS['non-root'] },
  {
    what: 'restricted: runAsUser 0 inherited from the pod',
    check: 'non-root',
    as: 'alice',
    pod: 'root-1',
    container: restricted({}),
    message: CHECKS['non-root'],
  },
  {
    what: 'restricted: seccomp Unconfined',
    check: 'seccomp',
    as: 'alice',
    pod: 'web-1',
    container: restricted({ seccompProfile: { type: 'Unconfined' } }),
    message: profileMessage('seccomp', WEB),
  },
  {
    what: 'restricted: seccomp unset (and unset on the pod)',
    check: 'seccomp',
    as: 'alice',
    pod: 'web-1',
    container: withoutSecurity('restricted', DEBUG_IMAGE, ['seccompProfile']),
    message: CHECKS.seccomp,
  },
  {
    what: 'restricted: seccomp Unconfined inherited from the pod',
    check: 'seccomp',
    as: 'alice',
    pod: 'unconfined-1',
    container: withoutSecurity('restricted', DEBUG_IMAGE, ['seccompProfile'], { appArmorProfile: { type: 'RuntimeDefault' } }),
    message: CHECKS.seccomp,
  },
  {
    what: 'restricted: AppArmor Unconfined',
    check: 'apparmor',
    as: 'alice',
    pod: 'web-1',
    container: restricted({ appArmorProfile: { type: 'Unconfined' } }),
    message: profileMessage('apparmor', WEB),
  },
  {
    what: 'restricted: AppArmor Unconfined inherited from the pod',
    check: 'apparmor',
    as: 'alice',
    pod: 'unconfined-1',
    container: restricted({}),
    message: profileMessage('apparmor', WEB),
  },
  {
    what: 'restricted: SELinux user',
    check: 'selinux',
    as: 'alice',
    pod: 'web-1',
    container: restricted({ seLinuxOptions: { user: 'system_u' } }),
    message: profileMessage('selinux', WEB),
  },
  {
    what: 'restricted: SELinux role',
    check: 'selinux',
    as: 'alice',
    pod: 'web-1',
    container: restricted({ seLinuxOptions: { role: 'system_r' } }),
    message: CHECKS.selinux,
  },
  {
    what: 'restricted: SELinux type spc_t',
    check: 'selinux',
    as: 'alice',
    pod: 'web-1',
    container: restricted({ seLinuxOptions: { type: 'spc_t' } }),
    message: CHECKS.selinux,
  },
  {
    what: 'restricted: GMSA credential spec by name',
    check: 'never',
    as: 'alice',
    pod: 'web-1',
    container: restricted({ windowsOptions: { gmsaCredentialSpecName: 'webapp' } }),
    message: CHECKS.never,
  },
  {
    what: 'restricted: GMSA credential spec inline',
    check: 'never',
    as: 'alice',
    pod: 'web-1',
    container: restricted({ windowsOptions: { gmsaCredentialSpec: '{}' } }),
    message: CHECKS.never,
  },
  {
    what: 'restricted: procMount Unmasked in a pod with its own user namespace',
    check: 'never',
    as: 'alice',
    pod: 'userns-1',
    container: restricted({ procMount: 'Unmasked' }),
    message: CHECKS.never,
  },
  {
    what: 'restricted: procMount Unmasked in a pod sharing the host user namespace',
    check: API_SERVER,
    as: 'alice',
    pod: 'web-1',
    container: restricted({ procMount: 'Unmasked' }),
    message: '`hostUsers` must be false to use `Unmasked`',
  },
  {
    what: 'restricted: Windows hostProcess',
    check: API_SERVER,
    as: 'alice',
    pod: 'web-1',
    container: restricted({ windowsOptions: { hostProcess: true } }),
    message: 'all containers must be HostProcess containers',
  },
  // the other profiles: every field their profile does not allow
  ...perProfile('baseline', 'alice', 'base-1', DEBUG_IMAGE, BASE),
  ...perProfile('netadmin', 'bob', 'net-1', NET_IMAGE, NET),
  ...perProfile('general', 'alice', 'gen-1', SYS_IMAGE, GEN),
  {
    what: 'baseline: seccomp Unconfined inherited from the pod',
    check: 'seccomp',
    as: 'alice',
    pod: 'base-unconfined-1',
    container: shaped('baseline', DEBUG_IMAGE),
    message: CHECKS.seccomp,
  },
  {
    what: 'baseline: AppArmor Unconfined inherited from the pod',
    check: 'apparmor',
    as: 'alice',
    pod: 'base-unconfined-1',
    container: shaped('baseline', DEBUG_IMAGE, {}, { seccompProfile: { type: 'RuntimeDefault' } }),
    message: CHECKS.apparmor,
  },
  // Pods that share the host's namespaces
  {
    what: 'a hostPID pod under restricted',
    check: 'host-namespaces',
    as: 'alice',
    pod: 'hostpid-1',
    container: restricted({}),
    message: `pod {ns}/hostpid-1 ${CHECKS['host-namespaces']}`,
  },
  {
    what: 'a hostNetwork pod under restricted',
    check: 'host-namespaces',
    as: 'alice',
    pod: 'hostnet-1',
    container: restricted({}),
    message: profileMessage('host-namespaces', WEB),
  },
  {
    what: 'a hostIPC pod under restricted',
    check: 'host-namespaces',
    as: 'alice',
    pod: 'hostipc-1',
    container: restricted({}),
    message: CHECKS['host-namespaces'],
  },
  // Env, volumes and every other route to data or privileges
  {
    what: 'env from a Secret',
    check: 'secrets-configmaps',
    as: 'alice',
    pod: 'web-1',
    container: restricted({}, { env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }),
    message: `${CHECKS['secrets-configmaps']} (Secret db)`,
  },
  {
    what: 'envFrom a Secret',
    check: 'secrets-configmaps',
    as: 'alice',
    pod: 'web-1',
    container: restricted({}, { envFrom: [{ secretRef: { name: 'db' } }] }),
    message: '(Secret db)',
  },
  {
    what: 'env from a ConfigMap',
    check: 'secrets-configmaps',
    as: 'alice',
    pod: 'web-1',
    container: restricted({}, { env: [{ name: 'CFG', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'db' } } }] }),
    message: '(ConfigMap app-config)',
  },
  {
    what: 'env from an optional ConfigMap key',
    check: 'secrets-configmaps',
    as: 'alice',
    pod: 'web-1',
    container: restricted({}, { env: [{ name: 'CFG', valueFrom: { configMapKeyRef: { name: 'maybe', key: 'k', optional: true } } }] }),
    message: '(ConfigMap maybe)',
  },
  {
    what: 'envFrom a ConfigMap with a prefix',
    check: 'secrets-configmaps',
    as: 'alice',
    pod: 'web-1',
    container: restricted({}, { envFrom: [{ configMapRef: { name: 'app-config' }, prefix: 'X_' }] }),
    message: '(ConfigMap app-config)',
  },
  {
    what: 'a plain env var next to a ConfigMap one',
    check: 'secrets-configmaps',
    as: 'alice',
    pod: 'web-1',
    container: restricted(
      {},
      {
        env: [
          { name: 'A', value: 'b' },
          { name: 'CFG', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'db' } } },
        ],
      },
    ),
    message: '(ConfigMap app-config)',
  },
  {
    what: 'sysadmin: env from a Secret',
    check: 'secrets-configmaps',
    as: 'carol',
    pod: 'sys-1',
    container: shaped('sysadmin', SYS_IMAGE, { env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }),
    message: '(Secret db)',
  },
  {
    what: 'sysadmin: envFrom a ConfigMap',
    check: 'secrets-configmaps',
    as: 'carol',
    pod: 'sys-1',
    container: shaped('sysadmin', SYS_IMAGE, { envFrom: [{ configMapRef: { name: 'app-config' } }] }),
    message: '(ConfigMap app-config)',
  },
  {
    what: 'a file of a volume through fileKeyRef',
    check: 'volumes',
    as: 'alice',
    pod: 'web-2',
    container: restricted({}, { env: [{ name: 'A', valueFrom: { fileKeyRef: { volumeName: 'data', path: 'a.env', key: 'A' } } }] }),
    message: `${CHECKS.volumes} (fileKeyRef A)`,
  },
  {
    what: 'a volume mount under restricted',
    check: 'volumes',
    as: 'alice',
    pod: 'web-2',
    container: restricted({}, { volumeMounts: [{ name: 'data', mountPath: '/data' }] }),
    message: `${CHECKS.volumes} (/data): only the sysadmin profile may`,
  },
  {
    what: 'a subPath mount',
    check: API_SERVER,
    as: 'carol',
    pod: 'sys-1',
    container: shaped('sysadmin', SYS_IMAGE, { volumeMounts: [{ name: 'data', mountPath: '/d', subPath: 'x', readOnly: true }] }),
    message: 'subPath: Forbidden: cannot be set for an Ephemeral Container',
  },
  {
    what: 'the token volume under restricted',
    check: 'volumes',
    as: 'alice',
    pod: 'web-2',
    container: restricted({}, { volumeMounts: [{ name: 'token', mountPath: '/t' }] }),
    message: '(/t)',
  },
  {
    what: 'a volume mount under baseline',
    check: 'volumes',
    as: 'alice',
    pod: 'base-1',
    container: shaped('baseline', DEBUG_IMAGE, { volumeMounts: [{ name: 'data', mountPath: '/data' }] }),
    message: CHECKS.volumes,
  },
  {
    what: 'sysadmin: the ServiceAccount token path',
    check: 'volumes',
    as: 'carol',
    pod: 'sys-1',
    container: shaped('sysadmin', SYS_IMAGE, { volumeMounts: [{ name: 'data', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] }),
    message: `never the ServiceAccount token nor a device; the matching grant is ${SYS}`,
  },
  {
    what: 'sysadmin: the kube-api-access volume elsewhere',
    check: 'volumes',
    as: 'carol',
    pod: 'sys-1',
    container: shaped('sysadmin', SYS_IMAGE, { volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/elsewhere' }] }),
    message: '(/elsewhere)',
  },
  {
    what: 'sysadmin: a projected token volume of another name',
    check: 'volumes',
    as: 'carol',
    pod: 'sys-1',
    container: shaped('sysadmin', SYS_IMAGE, { volumeMounts: [{ name: 'token', mountPath: '/t' }] }),
    message: '(/t)',
  },
  {
    what: 'sysadmin: GMSA credential spec',
    check: 'never',
    as: 'carol',
    pod: 'sys-1',
    container: shaped('sysadmin', SYS_IMAGE, {}, { windowsOptions: { gmsaCredentialSpecName: 'webapp' } }),
    message: CHECKS.never,
  },
  {
    what: 'ports',
    check: API_SERVER,
    as: 'alice',
    pod: 'web-1',
    container: restricted({}, { ports: [{ containerPort: 80 }] }),
    message: 'ports: Forbidden: cannot be set for an Ephemeral Container',
  },
  {
    what: 'resources',
    check: API_SERVER,
    as: 'alice',
    pod: 'web-1',
    container: restricted({}, { resources: { limits: { cpu: '8' } } }),
    message: 'resources: Forbidden: cannot be set for an Ephemeral Container',
  },
  {
    what: 'a lifecycle hook',
    check: API_SERVER,
    as: 'alice',
    pod: 'web-1',
    container: restricted({}, { lifecycle: { postStart: { exec: { command: ['sh'] } } } }),
    message: 'lifecycle: Forbidden',
  },
  {
    what: 'a probe',
    check: API_SERVER,
    as: 'alice',
    pod: 'web-1',
    container: restricted({}, { livenessProbe: { exec: { command: ['sh'] } } }),
    message: 'livenessProbe: Forbidden',
  },
  {
    what: 'a restart policy',
    check: API_SERVER,
    as: 'alice',
    pod: 'web-1',
    container: restricted({}, { restartPolicy: 'Always' }),
    message: 'restartPolicy: Forbidden',
  },
  // Request shapes: the same checks whatever the verb or patch type
  {
    what: 'merge patch of the whole list',
    check: 'privileged',
    as: 'alice',
    pod: 'web-1',
    shape: 'merge',
    container: withoutSecurity('restricted', DEBUG_IMAGE, ['allowPrivilegeEscalation'], { privileged: true }),
    message: CHECKS.privileged,
  },
  {
    what: 'JSON patch',
    check: 'capabilities',
    as: 'alice',
    pod: 'web-1',
    shape: 'json',
    container: restrictedCaps(['SYS_ADMIN']),
    message: CHECKS.capabilities,
  },
  {
    what: 'PUT of the whole pod',
    check: 'image',
    as: 'alice',
    pod: 'web-1',
    shape: 'put',
    container: shaped('restricted', OTHER_IMAGE),
    message: CHECKS.image,
  },
  {
    what: 'server-side apply',
    check: 'secrets-configmaps',
    as: 'alice',
    pod: 'web-1',
    shape: 'apply',
    container: restricted({}, { envFrom: [{ configMapRef: { name: 'app-config' } }] }),
    message: '(ConfigMap app-config)',
  },
  {
    what: 'server-side apply by a user with no grant',
    check: 'grant',
    as: 'bob',
    pod: 'web-1',
    shape: 'apply',
    container: restricted({}),
    message: CHECKS.grant,
  },
  {
    what: 'PUT under the netadmin group grant',
    check: 'apparmor',
    as: 'bob',
    pod: 'net-1',
    shape: 'put',
    container: shaped('netadmin', NET_IMAGE, {}, { appArmorProfile: { type: 'Unconfined' } }),
    message: CHECKS.apparmor,
  },
];

/** Requests after a grant's deadline while no operator runs (the fixture's expiring grant, bob's). */
export interface ExpiredCase {
  what: string;
  check: 'deadline' | typeof API_SERVER;
  shape: Shape | 'kubectl-debug';
  /** managedFields in the request claiming this manager wrote it long ago. */
  forge?: boolean;
  /** Entries planted first by a plain PATCH of the pod (someone with patch pods). */
  plant?: 'same-manager' | 'squatter' | 'future';
  fieldManager?: string;
  message: string;
}

export const EXPIRED: ExpiredCase[] = [
  { what: 'kubectl debug', check: 'deadline', shape: 'kubectl-debug', message: CHECKS.deadline },
  { what: 'strategic merge patch', check: 'deadline', shape: 'strategic', message: CHECKS.deadline },
  { what: 'merge patch carrying forged managedFields', check: 'deadline', shape: 'merge', forge: true, message: CHECKS.deadline },
  {
    what: 'merge patch carrying forged managedFields, no field manager',
    check: 'deadline',
    shape: 'merge',
    forge: true,
    fieldManager: '',
    message: CHECKS.deadline,
  },
  { what: 'PUT carrying forged managedFields', check: 'deadline', shape: 'put', forge: true, message: CHECKS.deadline },
  { what: 'JSON patch replacing managedFields', check: 'deadline', shape: 'json', forge: true, message: CHECKS.deadline },
  { what: 'server-side apply', check: 'deadline', shape: 'apply', message: CHECKS.deadline },
  { what: 'server-side apply carrying managedFields', check: API_SERVER, shape: 'apply', forge: true, message: 'metadata.managedFields must be nil' },
  { what: 'after a past-dated entry of the same manager was planted', check: 'deadline', shape: 'strategic', plant: 'same-manager', message: CHECKS.deadline },
  { what: 'after a past-dated entry owning the new container was planted', check: 'deadline', shape: 'strategic', plant: 'squatter', message: CHECKS.deadline },
  { what: 'after a dozen future-dated entries were planted', check: 'deadline', shape: 'strategic', plant: 'future', message: CHECKS.deadline },
];
