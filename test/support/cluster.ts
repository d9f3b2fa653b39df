// Helpers for integration tests: a client per local user, a fresh namespace per
// test file, SubjectAccessReview, our own kubectl, and kubelet-style status writes.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { readState, type PlaneState } from '../../hack/controlplane/plane.ts';
import type { LocalUserName } from '../../hack/controlplane/users.ts';
import { parseAuditLog, type AuditEvent } from '../../src/cli/audit-log.ts';
import { ApiError } from '../../src/kube/api-error.ts';

const run = promisify(execFile);

/** The events the control plane's API server has logged so far (config/audit/policy.yaml). */
export function readAuditLog(path: string): AuditEvent[] {
  return existsSync(path) ? parseAuditLog(readFileSync(path, 'utf8')).events : [];
}

export function plane(): PlaneState {
  const dir = process.env.DEBUGGRANT_TEST_PLANE;
  if (!dir) throw new Error('DEBUGGRANT_TEST_PLANE is not set: run integration tests through jest (global setup)');
  return readState(dir);
}

export function kubeConfigFor(user: LocalUserName): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plane().kubeconfig);
  kc.setCurrentContext(user);
  return kc;
}

export interface Clients {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  rbac: k8s.RbacAuthorizationV1Api;
  authz: k8s.AuthorizationV1Api;
  admissionReg: k8s.AdmissionregistrationV1Api;
  coordination: k8s.CoordinationV1Api;
  batch: k8s.BatchV1Api;
  objects: k8s.KubernetesObjectApi;
}

export function clientsFor(user: LocalUserName): Clients {
  const kc = kubeConfigFor(user);
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    authz: kc.makeApiClient(k8s.AuthorizationV1Api),
    admissionReg: kc.makeApiClient(k8s.AdmissionregistrationV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    batch: kc.makeApiClient(k8s.BatchV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
  };
}

/**
 * A new namespace with its `default` ServiceAccount (made here when there is no
 * controller-manager; on the real node the controller-manager may have made it first).
 */
export function freshNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  return namespaceNamed(`${prefix}-${randomBytes(3).toString('hex')}`, labels);
}

/** A new namespace of a fixed name (with its default ServiceAccount), for what the run's policy configuration names. */
export async function namespaceNamed(name: string, labels: Record<string, string> = {}): Promise<string> {
  const admin = clientsFor('admin');
  await admin.core.createNamespace({ body: { metadata: { name, labels } } });
  await admin.core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } }).catch((err: unknown) => {
    if (statusCode(err) !== 409) throw err;
  });
  return name;
}

export interface AccessQuery {
  user: string;
  groups?: string[];
  namespace: string;
  verb: string;
  resource: string;
  subresource?: string;
  name?: string;
  group?: string;
}

/** What the API server's authorizer answers for `user`, asked by the admin. */
export async function canI(q: AccessQuery): Promise<boolean> {
  const review = await clientsFor('admin').authz.createSubjectAccessReview({
    body: {
      spec: {
        user: q.user,
        groups: q.groups ?? ['system:authenticated'],
        resourceAttributes: {
          namespace: q.namespace,
          verb: q.verb,
          resource: q.resource,
          subresource: q.subresource,
          name: q.name,
          group: q.group ?? '',
        },
      },
    },
  });
  return review.status?.allowed === true;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Our kubectl (same version as the apiserver) as one of the local users. */
export async function kubectl(user: LocalUserName, args: string[], input?: string): Promise<KubectlResult> {
  const p = plane();
  const full = ['--kubeconfig', p.kubeconfig, '--context', user, ...args];
  try {
    const child = run(p.kubectl, full, { encoding: 'utf8' });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A pod that would run if there were a kubelet; it stays Pending here. */
export async function createPod(namespace: string, name: string, labels: Record<string, string>): Promise<k8s.V1Pod> {
  return clientsFor('admin').core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels },
      spec: {
        automountServiceAccountToken: false,
        containers: [{ name: 'app', image: 'registry.example.com/shop/app@sha256:' + 'a'.repeat(64) }],
      },
    },
  });
}

/** Writes pod status through the status subresource, as the kubelet would. */
export async function writePodStatus(namespace: string, name: string, status: k8s.V1PodStatus): Promise<k8s.V1Pod> {
  return clientsFor('admin').core.patchNamespacedPodStatus(
    { namespace, name, body: { status } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}

/** The HTTP status code of a failed call (client-node's or the operator's client), or undefined. */
export function statusCode(err: unknown): number | undefined {
  return err instanceof k8s.ApiException || err instanceof ApiError ? err.code : undefined;
}

/** A merge patch, for the client-node clients of clientsFor. */
export const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export async function rejection(p: Promise<unknown>): Promise<{ code: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    const body = err instanceof k8s.ApiException ? String(err.body) : err instanceof ApiError ? JSON.stringify(err.body) : String(err);
    return { code: statusCode(err), message: body };
  }
  throw new Error('expected the API server to refuse the request, but it succeeded');
}

export async function eventually<T>(probe: () => Promise<T>, accept: (v: T) => boolean, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!accept(last)) {
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${((JSON.stringify(last) as string | undefined) ?? 'undefined').slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
    last = await probe();
  }
  return last;
}
