// The one place that builds API clients. Everything else in src/kube/ takes a KubeApi.
import * as k8s from '@kubernetes/client-node';
import { shortMs, type OperatorConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { DEFAULT_TIMEOUTS, PooledKubeConfig, type ConnectionRetired, type RequestTimeouts } from './kubeconfig.ts';

export interface KubeApi {
  kc: PooledKubeConfig;
  core: k8s.CoreV1Api;
  rbac: k8s.RbacAuthorizationV1Api;
  authz: k8s.AuthorizationV1Api;
  custom: k8s.CustomObjectsApi;
  batch: k8s.BatchV1Api;
  coordination: k8s.CoordinationV1Api;
  watch: k8s.Watch;
}

export interface KubeConnection {
  /** A kubeconfig file; else $KUBECONFIG, ~/.kube/config or the in-cluster ServiceAccount. */
  kubeconfig?: string;
  context?: string;
}

export interface RequestPolicy {
  timeouts?: RequestTimeouts;
  onConnectionRetired?: ConnectionRetired;
  /** Check each pooled connection this often, idle or not (PooledKubeConfig.checkConnections); off when unset. */
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

export function connect(opts: KubeConnection & RequestPolicy = {}): KubeApi {
  const kc = new PooledKubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  return fromKubeConfig(kc, opts);
}

export function fromKubeConfig(source: k8s.KubeConfig, policy: RequestPolicy = {}): KubeApi {
  const kc = pooled(source);
  kc.timeouts = policy.timeouts ?? DEFAULT_TIMEOUTS;
  kc.onConnectionRetired = policy.onConnectionRetired;
  if (policy.connectionCheckMs !== undefined) kc.checkConnections(policy.connectionCheckMs);
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    authz: kc.makeApiClient(k8s.AuthorizationV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    batch: kc.makeApiClient(k8s.BatchV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    watch: new k8s.Watch(kc),
  };
}

/** The same configuration, with connections reused across requests. */
function pooled(kc: k8s.KubeConfig): PooledKubeConfig {
  if (kc instanceof PooledKubeConfig) return kc;
  const copy = new PooledKubeConfig();
  copy.loadFromOptions({ clusters: kc.getClusters(), users: kc.getUsers(), contexts: kc.getContexts(), currentContext: kc.getCurrentContext() });
  return copy;
}

export const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
export const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
/** Server-side apply, with any other per-call options (a timeout). */
export const applyPatch = (options?: k8s.ConfigurationOptions): k8s.ConfigurationOptions =>
  k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply, options);
