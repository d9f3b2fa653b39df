// kubectl-debuggrant run as its own process, as one of the local users, like a person would.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { LocalUserName } from '../../hack/controlplane/users.ts';
import { plane, type KubectlResult } from './cluster.ts';

export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export async function cli(context: LocalUserName, args: string[]): Promise<KubectlResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, '--kubeconfig', plane().kubeconfig, '--context', context, ...args], {
      encoding: 'utf8',
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
