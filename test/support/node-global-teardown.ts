import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { readState, stopControlPlane } from '../../hack/controlplane/plane.ts';
import { readNodeState, stopNode } from '../../hack/node/node.ts';

export default async function nodeGlobalTeardown(): Promise<void> {
  const planeDir = process.env.DEBUGGRANT_TEST_PLANE;
  if (!planeDir) return;
  const nodeDir = process.env.DEBUGGRANT_TEST_NODE ?? '';
  const node = nodeDir.startsWith('/') ? readNodeState(nodeDir) : undefined;
  process.stderr.write('[node-tests] stopping the node and the control plane\n');
  if (node) await stopNode(node);
  await stopControlPlane(readState(planeDir));
  if (!process.env.DEBUGGRANT_KEEP_PLANE_DIR) rmSync(dirname(planeDir), { recursive: true, force: true });
}
