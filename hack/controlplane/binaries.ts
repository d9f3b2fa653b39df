// Finds (and on first use builds) the pinned etcd, kube-apiserver and kubectl via
// hack/build-binaries.sh, whose progress goes straight to the caller's stderr.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../build-binaries.sh', import.meta.url));

export function ensureBinaries(): string {
  const out = execFileSync('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const dir = out.trim().split('\n').at(-1);
  if (!dir) throw new Error('hack/build-binaries.sh printed no directory');
  return dir;
}
