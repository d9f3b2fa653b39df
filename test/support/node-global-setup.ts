// Global setup of the `node` test project: a control plane of its own plus a real node
// (containerd, kubelet, kube-controller-manager, kube-scheduler). Workers find the plane
// through DEBUGGRANT_TEST_PLANE and the node through DEBUGGRANT_TEST_NODE, which holds the
// node's directory or, where the machine cannot run one, `unavailable: <reason>`.
// DEBUGGRANT_NODE=require (CI) makes a missing node an error instead.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from '../../hack/controlplane/binaries.ts';
import { installAdmission, installCrds } from '../../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane } from '../../hack/controlplane/plane.ts';
import { startNodeIfPossible, stopNode } from '../../hack/node/node.ts';
import { TEST_POLICY } from './policy.ts';

export default async function nodeGlobalSetup(): Promise<void> {
  const say = (msg: string): void => {
    process.stderr.write(`[node-tests] ${msg}\n`);
  };
  if (process.env.DEBUGGRANT_TEST_PLANE) {
    throw new Error('the node project runs with its own control plane: run it on its own (--selectProjects node)');
  }
  const binDir = ensureBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-node-test-'));
  const state = await startControlPlane({ dir: join(dir, 'plane'), binDir, progress: say });
  const outcome = await startNodeIfPossible({
    plane: state,
    dir: join(dir, 'node'),
    progress: say,
    require: process.env.DEBUGGRANT_NODE === 'require',
  }).catch(async (err: unknown) => {
    await stopControlPlane(state);
    throw err;
  });
  try {
    installCrds(state);
    installAdmission(state, TEST_POLICY);
  } catch (err) {
    // Jest runs no teardown when setup fails: stop what we started ourselves.
    if (outcome.node) await stopNode(outcome.node);
    await stopControlPlane(state);
    throw err;
  }
  if (outcome.reason) say(`NO REAL NODE, the node tests are skipped: ${outcome.reason}`);
  process.env.DEBUGGRANT_TEST_PLANE = join(dir, 'plane');
  process.env.DEBUGGRANT_TEST_NODE = outcome.node ? join(dir, 'node') : `unavailable: ${outcome.reason}`;
}
