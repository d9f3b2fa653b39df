// helm, built once from hack/tools/helm (hack/build-helm.sh), for the chart tests.
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KubectlResult } from './cluster.ts';

const script = fileURLToPath(new URL('../../hack/build-helm.sh', import.meta.url));
let binary: string | undefined;

/** The helm binary's path; the first call may build it (progress on stderr). */
export function ensureHelm(): string {
  binary ??= execFileSync('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
    .trim()
    .split('\n')
    .at(-1);
  if (!binary) throw new Error('hack/build-helm.sh printed no path');
  return binary;
}

/** helm's own notice that the chart reads crds/ and config/ through links: expected, not a problem. */
const SYMLINK_NOTICE = /^level=INFO msg="found symbolic link in path.*\n/gm;

export function helm(args: string[]): Promise<KubectlResult> {
  return new Promise((resolve) => {
    execFile(
      ensureHelm(),
      args,
      {
        encoding: 'utf8',
        maxBuffer: 32 * 2 ** 20,
        env: {
          ...process.env,
          HELM_CACHE_HOME: '/tmp/debuggrant-helm/cache',
          HELM_CONFIG_HOME: '/tmp/debuggrant-helm/config',
          HELM_DATA_HOME: '/tmp/debuggrant-helm/data',
        },
      },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr: stderr.replace(SYMLINK_NOTICE, '') });
      },
    );
  });
}
