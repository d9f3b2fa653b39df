// Undoing what one run's node did to the machine: its containers, the network namespaces
// and mounts they left, its bridge and its cgroups. Every step finds its targets through the
// run's layout (paths, socket, bridge name, cgroup root), never by a broad name, so other
// runs on the machine are untouched.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cgroupProcesses } from './cgroups.ts';
import { mounts, readIfExists } from './procfs.ts';
import { ctr } from './containerd.ts';
import type { NodeLayout } from './layout.ts';

const run = promisify(execFile);

/** The network namespaces (bind mounts under /run/netns) of this containerd's pod sandboxes. */
async function sandboxNetns(layout: NodeLayout, ids: string[]): Promise<string[]> {
  const paths = new Set<string>();
  for (const id of ids) {
    const info = JSON.parse(await ctr(layout, ['containers', 'info', id]).catch(() => '{}')) as {
      Spec?: { linux?: { namespaces?: { type: string; path?: string }[] } };
    };
    for (const ns of info.Spec?.linux?.namespaces ?? []) {
      // /var/run is a link to /run: the mount table names the resolved path.
      if (ns.type === 'network' && ns.path && /^\/(var\/)?run\/netns\//.test(ns.path)) paths.add(ns.path.replace(/^\/var\/run\//, '/run/'));
    }
  }
  return [...paths];
}

/**
 * The network namespaces under /run/netns that processes in the run's cgroups are in: found
 * even when containerd is gone (a network namespace file is the namespace's inode).
 */
export function netnsOfCgroup(layout: NodeLayout): string[] {
  const inodes = new Set<number>();
  for (const pid of cgroupProcesses(layout.cgroupRoot)) {
    try {
      inodes.add(statSync(`/proc/${String(pid)}/ns/net`).ino);
    } catch {
      /* exited */
    }
  }
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns')
    .map((f) => join('/run/netns', f))
    .filter((path) => {
      try {
        return inodes.has(statSync(path).ino);
      } catch {
        return false;
      }
    });
}

/** Kills and deletes every container of this run's containerd; returns their network namespaces. */
export async function removeContainers(layout: NodeLayout): Promise<string[]> {
  const ids = (await ctr(layout, ['containers', 'list', '--quiet'])).split('\n').filter(Boolean);
  const netns = await sandboxNetns(layout, ids);
  for (const id of ids) {
    await ctr(layout, ['tasks', 'delete', '--force', id]).catch(() => '');
    await ctr(layout, ['containers', 'delete', id]).catch(() => '');
  }
  return netns;
}

/**
 * SIGKILLs what is left of the run: processes in its cgroups (containers whose runtime died)
 * and containerd shims serving its socket.
 */
export function killLeftovers(layout: NodeLayout): void {
  const pids = new Set(cgroupProcesses(layout.cgroupRoot));
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    const cmdline = readIfExists(`/proc/${entry}/cmdline`).split('\0');
    if (cmdline[0]?.endsWith('containerd-shim-runc-v2') && cmdline.includes(layout.containerdSocket)) pids.add(Number(entry));
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Unmounts everything under the run's directory and its network namespaces, deepest first. */
export async function unmountAll(layout: NodeLayout, netns: string[]): Promise<void> {
  const ours = (p: string): boolean => p.startsWith(`${layout.dir}/`) || netns.includes(p);
  const points = [
    ...new Set(
      mounts()
        .map((m) => m.point)
        .filter(ours),
    ),
  ].sort((a, b) => b.length - a.length);
  for (const point of points) await run('umount', ['--lazy', point]).catch(() => undefined);
  for (const path of netns) rmSync(path, { force: true });
  const left = mounts()
    .map((m) => m.point)
    .filter(ours);
  if (left.length) throw new Error(`still mounted after umount: ${left.join(', ')}`);
}

export async function deleteBridge(layout: NodeLayout): Promise<void> {
  const exists = (): boolean => existsSync(`/sys/class/net/${layout.bridge}`);
  if (exists()) {
    await run('ip', ['link', 'delete', layout.bridge]).catch((err: unknown) => {
      if (exists()) throw err;
    });
  }
}
