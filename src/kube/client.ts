// The one place that builds API clients. Everything else in src/kube/ takes a KubeApi.
import * as k8s from '@kubernetes/client-node';

export interface KubeApi {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  rbac: k8s.RbacAuthorizationV1Api;
  authz: k8s.AuthorizationV1Api;
  custom: k8s.CustomObjectsApi;
  coordination: k8s.CoordinationV1Api;
  watch: k8s.Watch;
}

export interface KubeConnection {
  /** A kubeconfig file; else $KUBECONFIG, ~/.kube/config or the in-cluster ServiceAccount. */
  kubeconfig?: string;
  context?: string;
}

export function connect(opts: KubeConnection = {}): KubeApi {
  const kc = new k8s.KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  return fromKubeConfig(kc);
}

export function fromKubeConfig(kc: k8s.KubeConfig): KubeApi {
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    authz: kc.makeApiClient(k8s.AuthorizationV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    watch: new k8s.Watch(kc),
  };
}

export const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
export const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
export const applyPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
