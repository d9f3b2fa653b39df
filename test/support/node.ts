// Helpers for tests on the real node: the node's state (images), pods that really run,
// and kubectl sessions that stay open (exec, attach, port-forward, logs -f) as a local user.
import { describe } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { readNodeState, type NodeState } from '../../hack/node/node.ts';
import { clientsFor, eventually } from './cluster.ts';
import { createGrant, getGrant, grantSpec, isReady } from './grants.ts';

const nodeDir = process.env.DEBUGGRANT_TEST_NODE ?? '';

export function testNode(): NodeState {
  const node = nodeDir.startsWith('/') ? readNodeState(nodeDir) : undefined;
  if (!node) throw new Error(`no real node in this run (${nodeDir || 'DEBUGGRANT_TEST_NODE is not set'})`);
  return node;
}

/** `describe` where the global setup brought up a node, else skipped (the setup printed why). */
export const describeOnNode = nodeDir.startsWith('/') ? describe : describe.skip;

/**
 * A grant for alice on the pods with `labels`, with the node's non-root debug image and the
 * restricted profile unless `extra` says otherwise; resolves once Ready, with its deadline.
 */
export async function activeGrant(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  extra: Record<string, unknown> = {},
): Promise<{ expiresAt: number }> {
  await createGrant(
    namespace,
    name,
    grantSpec({
      podSelector: { matchLabels: labels },
      image: testNode().images.debugNonRoot.ref,
      profile: 'restricted',
      ...extra,
    }),
  );
  const ready = await eventually(() => getGrant(namespace, name), isReady, 30_000);
  return { expiresAt: Date.parse(ready?.status?.expiresAt ?? '') };
}

/** A pod of the app image (a shell that sleeps) that the real kubelet runs; resolves once Running. */
export async function runningPod(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  container: Partial<k8s.V1Container> = {},
): Promise<k8s.V1Pod> {
  const core = clientsFor('admin').core;
  await core.createNamespacedPod({ namespace, body: { metadata: { name, labels }, spec: podSpec(container) } });
  return await waitForRunning(namespace, name);
}

export function podSpec(container: Partial<k8s.V1Container> = {}): k8s.V1PodSpec {
  return {
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 1,
    containers: [{ name: 'app', image: testNode().images.app.ref, imagePullPolicy: 'Never', command: ['sleep', 'inf'], ...container }],
  };
}

export async function waitForRunning(namespace: string, name: string): Promise<k8s.V1Pod> {
  const core = clientsFor('admin').core;
  return await eventually(
    () => core.readNamespacedPod({ namespace, name }),
    (p) => p.status?.phase === 'Running',
    90_000,
    250,
  );
}

export { kubectlSession, session, type Session } from './sessions.ts';
