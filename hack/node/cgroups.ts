// The node's cgroup root (`/debuggrant-<run id>`) in every mounted hierarchy: the kubelet puts
// all pods under it, so this run's containers are found, killed and removed by it alone.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mounts, readIfExists } from './procfs.ts';

/** Where each cgroup hierarchy is mounted (v1 controllers and a v2 unified one). */
export function cgroupMounts(): string[] {
  return mounts()
    .filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2')
    .map((m) => m.point);
}

/** Creates the cgroup root in every hierarchy (the kubelet refuses a missing one). */
export function createCgroupRoot(root: string): void {
  for (const mount of cgroupMounts()) {
    const dir = join(mount, root);
    mkdirSync(dir, { recursive: true });
    // A v1 cpuset cgroup admits no process until it has CPUs and memory nodes.
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (existsSync(join(mount, file)) && !readFileSync(join(dir, file), 'utf8').trim()) {
        writeFileSync(join(dir, file), readFileSync(join(mount, file)));
      }
    }
  }
}

export function cgroupProcesses(root: string): number[] {
  return cgroupMounts()
    .flatMap((mount) => cgroupDirs(join(mount, root)))
    .flatMap((dir) => readIfExists(join(dir, 'cgroup.procs')).split('\n').filter(Boolean).map(Number));
}

/** Removes the cgroup root and everything below it; returns the directories that remain. */
export function removeCgroupRoot(root: string): string[] {
  const left: string[] = [];
  for (const mount of cgroupMounts()) {
    for (const dir of cgroupDirs(join(mount, root)).reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        left.push(dir);
      }
    }
  }
  return left;
}

/** A cgroup directory and all below it, parents first. */
function cgroupDirs(top: string): string[] {
  if (!existsSync(top)) return [];
  const out = [top];
  for (let i = 0; i < out.length; i++) {
    const dir = out[i] ?? '';
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) out.push(path);
    }
  }
  return out;
}
