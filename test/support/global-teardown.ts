import { rmSync } from 'node:fs';
import { readState, stopControlPlane } from '../../hack/controlplane/plane.ts';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.DEBUGGRANT_TEST_PLANE;
  if (!dir) return;
  process.stderr.write('[integration] stopping the control plane\n');
  await stopControlPlane(readState(dir));
  if (!process.env.DEBUGGRANT_KEEP_PLANE_DIR) rmSync(dir, { recursive: true, force: true });
}
