// What the memory benchmarks read of an operator process: RSS and peak RSS from /proc, and
// the live heap after a full GC through bench/gc-probe.mjs. Variants name the operators to
// compare (sources, the bundle with the Deployment's Node flags, another checkout).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../hack/controlplane/install.ts';
import type { OperatorProcess } from '../hack/operator-process.ts';
import { processUsage } from './cluster.ts';

export interface Variant {
  label: string;
  entry: string;
  nodeArgs: string[];
  /** Run as the Deployment runs it: its ServiceAccount in-cluster, its configuration (leader election, HTTPS metrics). */
  asDeployed: boolean;
}

/** The variant word (not a Node flag) that asks for the operator as deployed. */
export const AS_DEPLOYED = '+as-deployed';

/** `label=entry [node flags…] [+as-deployed]`, comma-separated (entries absolute or relative to the repository). */
export function parseVariants(spec: string): Variant[] {
  return spec.split(',').map((v) => {
    const at = v.indexOf('=');
    const [entry = '', ...words] = v
      .slice(at + 1)
      .trim()
      .split(/\s+/);
    return {
      label: v.slice(0, at),
      entry: resolve(REPO_ROOT, entry),
      nodeArgs: words.filter((w) => w !== AS_DEPLOYED),
      asDeployed: words.includes(AS_DEPLOYED),
    };
  });
}

/** The Node flags and environment that load the probe; `file` receives its answers. */
export function gcProbe(file: string): { nodeArgs: string[]; env: Record<string, string> } {
  return {
    nodeArgs: ['--expose-gc', '--import', join(REPO_ROOT, 'bench/gc-probe.mjs')],
    env: { BENCH_GC_PROBE_FILE: file, ...(process.env.BENCH_HEAP_SNAPSHOT_DIR ? { BENCH_HEAP_SNAPSHOT_DIR: process.env.BENCH_HEAP_SNAPSHOT_DIR } : {}) },
  };
}

export interface MemoryReading {
  rssMb: number;
  peakRssMb: number;
  /** RssAnon and RssFile: RSS = anonymous + file-backed (+ shmem). */
  rssAnonMb: number;
  rssFileMb: number;
  liveHeapMb: number;
  cpuSeconds: number;
}

/** RSS and peak RSS now, then the live heap after a full GC (asked of the probe, waited for). */
export async function readMemory(op: OperatorProcess, probeFile: string, timeoutMs = 120_000): Promise<MemoryReading> {
  const usage = processUsage(op.pid);
  rmSync(probeFile, { force: true });
  process.kill(op.pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(probeFile)) {
    if (Date.now() > deadline) throw new Error(`the operator's GC probe did not answer within ${String(timeoutMs)} ms (started with bench/gc-probe.mjs?)`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Written in one call, but read only once it parses (the write may be in progress).
  for (;;) {
    try {
      const probe = JSON.parse(readFileSync(probeFile, 'utf8')) as { heapUsedBytes: number };
      return { ...usage, liveHeapMb: probe.heapUsedBytes / 2 ** 20 };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
