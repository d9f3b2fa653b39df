// Starts one real control plane for the whole integration run; workers find it
// through DEBUGGRANT_TEST_PLANE (environment set here is inherited by them).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from '../../hack/controlplane/binaries.ts';
import { installAdmission, installCrds } from '../../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane } from '../../hack/controlplane/plane.ts';
import { TEST_POLICY } from './policy.ts';

export default async function globalSetup(): Promise<void> {
  const say = (msg: string): void => {
    process.stderr.write(`[integration] ${msg}\n`);
  };
  if (process.env.DEBUGGRANT_TEST_PLANE)
    throw new Error("another project's control plane is set up in this run: select one project (--selectProjects integration)");
  say('locating control-plane binaries (built once, then cached)');
  const binDir = ensureBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-test-'));
  const state = await startControlPlane({ dir, binDir, progress: say });
  try {
    say('installing CRDs and admission policies');
    installCrds(state);
    installAdmission(state, TEST_POLICY);
  } catch (err) {
    // Jest runs no teardown when setup fails: stop what we started ourselves.
    await stopControlPlane(state);
    throw err;
  }
  process.env.DEBUGGRANT_TEST_PLANE = dir;
}
