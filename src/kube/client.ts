// The one place that builds the API client. Everything else in src/kube/ takes a KubeApi.
//
// The operations are named as client-node's generated API names them (patchNamespacedRole,
// createSubjectAccessReview…), with the same parameter objects: those names label the request
// metrics (instrument.ts), pick requests for lanes and test faults (wrap-calls.ts), and are
// what the recording client of the unit tests answers. Each is one request of the thin REST
// client (rest.ts); client-node's types are used as types only, erased at build.
import type {
  V1TokenReview,
  KubeConfig,
  V1ClusterRoleBindingList,
  V1ClusterRoleList,
  V1ConfigMap,
  V1DeploymentList,
  CoreV1Event,
  V1Eviction,
  V1Job,
  V1Lease,
  V1Namespace,
  V1Pod,
  V1Role,
  V1RoleBinding,
  V1RoleBindingList,
  V1RoleList,
  V1SelfSubjectReview,
  V1ServiceAccount,
  V1SubjectAccessReview,
  AuthenticationV1TokenRequest,
  VersionInfo,
} from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { shortMs, type OperatorConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { ApiConnection, DEFAULT_TIMEOUTS, type CallOptions, type ConnectionRetired, type RequestTimeouts } from './connection.ts';
import { loadAccess, type ClusterAccess } from './kubeconfig.ts';
import { KubeClient, type DeleteOptions, type ListQuery, type PatchType, type Resource } from './rest.ts';

export type { CallOptions } from './connection.ts';

export interface KubeConnection {
  /** A kubeconfig file; else $KUBECONFIG, ~/.kube/config or the in-cluster ServiceAccount. */
  kubeconfig?: string;
  context?: string;
}

export interface RequestPolicy {
  timeouts?: RequestTimeouts;
  onConnectionRetired?: ConnectionRetired;
  /** Check the pooled connection this often, idle or not (ApiConnection.checkConnections); off when unset. */
  connectionCheckMs?: number;
}

/** The operator's connection check period: a stall goes unnoticed for at most this plus the check's 3 s. */
const CONNECTION_CHECK_MS = 10_000;

/** Timeouts from the operator configuration; every replaced connection is logged. */
export function requestPolicy(config: OperatorConfig, log: Logger): RequestPolicy {
  return {
    timeouts: {
      requestMs: shortMs(config.api.requestTimeout) ?? DEFAULT_TIMEOUTS.requestMs,
      revocationMs: shortMs(config.api.revocationTimeout) ?? DEFAULT_TIMEOUTS.revocationMs,
    },
    onConnectionRetired: (why) => {
      log.warn(why, 'replaced the connection to the API server');
    },
    connectionCheckMs: CONNECTION_CHECK_MS,
  };
}

/** A patch names its kind: a JSON patch, a merge patch, a strategic merge patch or a server-side apply. */
export type PatchOptions = CallOptions & { patch: PatchType };
export const mergePatch: PatchOptions = { patch: 'merge' };
export const jsonPatch: PatchOptions = { patch: 'json' };
/** Server-side apply, with any other per-call options (a timeout). */
export const applyPatch = (options?: CallOptions): PatchOptions => ({ ...options, patch: 'apply' });

interface Named {
  namespace: string;
  name: string;
}
interface Custom {
  group: string;
  version: string;
  plural: string;
}
type Write<T> = { body: T; fieldManager?: string; force?: boolean; dryRun?: boolean };

const v1 = (plural: string, p: Partial<Named> = {}, subresource?: string): Resource => ({ version: 'v1', plural, ...p, subresource });
const rbacV1 = (plural: string, p: Partial<Named> = {}): Resource => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, ...p });
const batchV1 = (p: Partial<Named>): Resource => ({ group: 'batch', version: 'v1', plural: 'jobs', ...p });
const leases = (p: Partial<Named>): Resource => ({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', ...p });
const custom = (p: Custom & { namespace?: string; name?: string }, subresource?: string): Resource => ({
  group: p.group,
  version: p.version,
  plural: p.plural,
  namespace: p.namespace,
  name: p.name,
  subresource,
});

function groups(c: KubeClient) {
  return {
    core: {
      createNamespace: (p: { body: V1Namespace }, o?: CallOptions) => c.create<V1Namespace>(v1('namespaces'), p.body, {}, o),
      createNamespacedPod: (p: { namespace: string; body: V1Pod }, o?: CallOptions) => c.create<V1Pod>(v1('pods', p), p.body, {}, o),
      patchNamespacedPod: (p: Named & Write<object>, o: PatchOptions) => c.patch<V1Pod>(v1('pods', p), o.patch, p.body, p, o),
      patchNamespacedPodStatus: (p: Named & Write<object>, o: PatchOptions) => c.patch<V1Pod>(v1('pods', p, 'status'), o.patch, p.body, p, o),
      createNamespacedPodEviction: (p: Named & { body: V1Eviction }, o?: CallOptions) => c.create<object>(v1('pods', p, 'eviction'), p.body, {}, o),
      createNamespacedEvent: (p: { namespace: string; body: CoreV1Event }, o?: CallOptions) => c.create<CoreV1Event>(v1('events', p), p.body, {}, o),
      createNamespacedConfigMap: (p: { namespace: string; body: V1ConfigMap }, o?: CallOptions) => c.create<V1ConfigMap>(v1('configmaps', p), p.body, {}, o),
      createNamespacedServiceAccount: (p: { namespace: string; body: V1ServiceAccount }, o?: CallOptions) =>
        c.create<V1ServiceAccount>(v1('serviceaccounts', p), p.body, {}, o),
      createNamespacedServiceAccountToken: (p: Named & { body: AuthenticationV1TokenRequest }, o?: CallOptions) =>
        c.create<AuthenticationV1TokenRequest>(v1('serviceaccounts', p, 'token'), p.body, {}, o),
    },
    rbac: {
      readNamespacedRole: (p: Named, o?: CallOptions) => c.get<V1Role>(rbacV1('roles', p), o),
      readNamespacedRoleBinding: (p: Named, o?: CallOptions) => c.get<V1RoleBinding>(rbacV1('rolebindings', p), o),
      createNamespacedRole: (p: { namespace: string; body: V1Role }, o?: CallOptions) => c.create<V1Role>(rbacV1('roles', p), p.body, {}, o),
      createNamespacedRoleBinding: (p: { namespace: string; body: V1RoleBinding }, o?: CallOptions) =>
        c.create<V1RoleBinding>(rbacV1('rolebindings', p), p.body, {}, o),
      replaceNamespacedRoleBinding: (p: Named & { body: V1RoleBinding }, o?: CallOptions) => c.replace<V1RoleBinding>(rbacV1('rolebindings', p), p.body, {}, o),
      patchNamespacedRole: (p: Named & Write<V1Role>, o: PatchOptions) => c.patch<V1Role>(rbacV1('roles', p), o.patch, p.body, p, o),
      patchNamespacedRoleBinding: (p: Named & Write<V1RoleBinding>, o: PatchOptions) =>
        c.patch<V1RoleBinding>(rbacV1('rolebindings', p), o.patch, p.body, p, o),
      deleteNamespacedRole: (p: Named & { body?: DeleteOptions }, o?: CallOptions) => c.delete<object>(rbacV1('roles', p), p.body, o),
      deleteNamespacedRoleBinding: (p: Named & { body?: DeleteOptions }, o?: CallOptions) => c.delete<object>(rbacV1('rolebindings', p), p.body, o),
      listRoleForAllNamespaces: (p: ListQuery = {}, o?: CallOptions) => c.list<V1RoleList>(rbacV1('roles'), p, o),
      listRoleBindingForAllNamespaces: (p: ListQuery = {}, o?: CallOptions) => c.list<V1RoleBindingList>(rbacV1('rolebindings'), p, o),
      listClusterRole: (p: ListQuery = {}, o?: CallOptions) => c.list<V1ClusterRoleList>(rbacV1('clusterroles'), p, o),
      listClusterRoleBinding: (p: ListQuery = {}, o?: CallOptions) => c.list<V1ClusterRoleBindingList>(rbacV1('clusterrolebindings'), p, o),
    },
    authz: {
      createSubjectAccessReview: (p: { body: V1SubjectAccessReview }, o?: CallOptions) =>
        c.create<V1SubjectAccessReview>({ group: 'authorization.k8s.io', version: 'v1', plural: 'subjectaccessreviews' }, p.body, {}, o),
    },
    authn: {
      createTokenReview: (p: { body: V1TokenReview }, o?: CallOptions) =>
        c.create<V1TokenReview>({ group: 'authentication.k8s.io', version: 'v1', plural: 'tokenreviews' }, p.body, {}, o),
      createSelfSubjectReview: (p: { body: V1SelfSubjectReview }, o?: CallOptions) =>
        c.create<V1SelfSubjectReview>({ group: 'authentication.k8s.io', version: 'v1', plural: 'selfsubjectreviews' }, p.body, {}, o),
    },
    apps: {
      listNamespacedDeployment: (p: { namespace: string } & ListQuery, o?: CallOptions) => {
        const { namespace, ...q } = p;
        return c.list<V1DeploymentList>({ group: 'apps', version: 'v1', plural: 'deployments', namespace }, q, o);
      },
    },
    custom: {
      getClusterCustomObject: (p: Custom & { name: string }, o?: CallOptions) => c.get<unknown>(custom(p), o),
      getNamespacedCustomObject: (p: Custom & Named, o?: CallOptions) => c.get<unknown>(custom(p), o),
      listNamespacedCustomObject: (p: Custom & { namespace: string } & ListQuery, o?: CallOptions) => c.list<unknown>(custom(p), p, o),
      listClusterCustomObject: (p: Custom & ListQuery, o?: CallOptions) => c.list<unknown>(custom(p), p, o),
      createNamespacedCustomObject: (p: Custom & { namespace: string } & Write<object>, o?: CallOptions) => c.create<unknown>(custom(p), p.body, p, o),
      replaceNamespacedCustomObject: (p: Custom & Named & Write<object>, o?: CallOptions) => c.replace<unknown>(custom(p), p.body, p, o),
      patchNamespacedCustomObject: (p: Custom & Named & Write<object>, o: PatchOptions) => c.patch<unknown>(custom(p), o.patch, p.body, p, o),
      patchNamespacedCustomObjectStatus: (p: Custom & Named & Write<object>, o: PatchOptions) => c.patch<unknown>(custom(p, 'status'), o.patch, p.body, p, o),
      deleteNamespacedCustomObject: (p: Custom & Named & { body?: DeleteOptions }, o?: CallOptions) => c.delete<unknown>(custom(p), p.body, o),
    },
    batch: {
      createNamespacedJob: (p: { namespace: string; body: V1Job }, o?: CallOptions) => c.create<V1Job>(batchV1(p), p.body, {}, o),
      readNamespacedJob: (p: Named, o?: CallOptions) => c.get<V1Job>(batchV1(p), o),
      patchNamespacedJob: (p: Named & Write<object>, o: PatchOptions) => c.patch<V1Job>(batchV1(p), o.patch, p.body, p, o),
      deleteNamespacedJob: (p: Named & { body?: DeleteOptions }, o?: CallOptions) => c.delete<object>(batchV1(p), p.body, o),
    },
    coordination: {
      readNamespacedLease: (p: Named, o?: CallOptions) => c.get<V1Lease>(leases(p), o),
      createNamespacedLease: (p: { namespace: string; body: LeaseBody }, o?: CallOptions) => c.create<V1Lease>(leases(p), p.body, {}, o),
      replaceNamespacedLease: (p: Named & { body: LeaseBody }, o?: CallOptions) => c.replace<V1Lease>(leases(p), p.body, {}, o),
    },
    version: {
      getCode: (o?: CallOptions) => c.get<VersionInfo>('/version', o),
    },
  };
}

/** A Lease as sent: its times are MicroTime strings (microtime.ts), not Dates. */
export type LeaseBody = Omit<V1Lease, 'spec'> & {
  spec: Omit<NonNullable<V1Lease['spec']>, 'renewTime' | 'acquireTime'> & { renewTime?: string; acquireTime?: string };
};

export type KubeApi = ReturnType<typeof groups> & { connection: ApiConnection };

/** The client for `access`, with the request policy (timeouts, connection checks). */
export function apiFor(access: ClusterAccess, policy: RequestPolicy = {}): KubeApi {
  const connection = new ApiConnection(access);
  connection.timeouts = policy.timeouts ?? DEFAULT_TIMEOUTS;
  connection.onConnectionRetired = policy.onConnectionRetired;
  if (policy.connectionCheckMs !== undefined) connection.checkConnections(policy.connectionCheckMs);
  return { connection, ...groups(new KubeClient(connection)) };
}

/** The operator's client: a kubeconfig file, else $KUBECONFIG or ~/.kube/config, else the in-cluster ServiceAccount. */
export function connect(opts: KubeConnection & RequestPolicy = {}): KubeApi {
  return apiFor(loadAccess({ kubeconfig: opts.kubeconfig, context: opts.context }), opts);
}

/**
 * The client for the current context of a client-node KubeConfig, which brings its own
 * credentials (exec and auth-provider plugins included): the CLI's (src/cli/connection.ts)
 * and the tests'. Uses the KubeConfig object it is given; imports nothing of client-node.
 */
export function fromKubeConfig(kc: KubeConfig, policy: RequestPolicy = {}): KubeApi {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  return apiFor(kubeConfigAccess(kc, server), policy);
}

function kubeConfigAccess(kc: KubeConfig, server: string): ClusterAccess {
  const material = (file: string | undefined, data: string | undefined): Buffer | undefined =>
    file ? readFileSync(file) : data ? Buffer.from(data, 'base64') : undefined;
  return {
    server,
    // What client-node's own agent options hold (KubeConfig.applyHTTPSOptions, private).
    tls: () => {
      const cluster = kc.getCurrentCluster();
      const user = kc.getCurrentUser();
      return {
        ca: material(cluster?.caFile, cluster?.caData),
        cert: material(user?.certFile, user?.certData),
        key: material(user?.keyFile, user?.keyData),
        ...(cluster?.skipTLSVerify ? { rejectUnauthorized: false } : {}),
        ...(cluster?.tlsServerName ? { servername: cluster.tlsServerName } : {}),
      };
    },
    // For every request, so exec and auth-provider plugins refresh their tokens as they expire.
    headers: async () => {
      const o: { headers?: Record<string, string>; auth?: string } = {};
      await kc.applyToHTTPSOptions(o);
      return { ...o.headers, ...(o.auth ? { authorization: `Basic ${Buffer.from(o.auth).toString('base64')}` } : {}) };
    },
  };
}
