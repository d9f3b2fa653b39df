// The node's container runtime: Debian's containerd with its root, state, socket, runc
// state, CNI configuration and plugin paths all inside this run's directory, so several
// runs on one machine never share anything but the binaries.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startProcess, waitUntilReady, type Started } from '../controlplane/processes.ts';
import type { LocalImages } from './images.ts';
import type { NodeLayout } from './layout.ts';

const run = promisify(execFile);

function config(layout: NodeLayout, sandboxImage: string): string {
  const q = JSON.stringify;
  return `version = 2
root = ${q(layout.containerdRoot)}
state = ${q(layout.containerdState)}
# Snapshotters this machine has no use for; overlayfs is the one used.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = ${q(layout.containerdSocket)}
[ttrpc]
  address = ${q(`${layout.containerdSocket}.ttrpc`)}
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(layout.dir, 'opt'))}
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(sandboxImage)}
  # Exec/attach/port-forward streams: on loopback only (the kubelet proxies them).
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_tcp_service = true
  # Root here lacks CAP_SYS_RESOURCE: without this runc fails with
  # "can't get final child's PID from pipe" when it lowers a container's oom_score_adj.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  tolerate_missing_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${q(layout.cniConfDir)}
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = ${q(join(layout.dir, 'runc'))}
`;
}

export function startContainerd(layout: NodeLayout, images: LocalImages): Started {
  const file = join(layout.dir, 'containerd.toml');
  writeFileSync(file, config(layout, images.pause.tag));
  return startProcess('containerd', '/usr/bin/containerd', ['--config', file, '--log-level', 'warn'], join(layout.dir, 'containerd.log'));
}

export async function waitForContainerd(layout: NodeLayout, containerd: Started): Promise<void> {
  await waitUntilReady(containerd, async () => existsSync(layout.containerdSocket) && (await ctr(layout, ['version'])).length > 0, 30_000);
}

/** `ctr` against this run's containerd, in the namespace the CRI plugin uses. */
export async function ctr(layout: NodeLayout, args: string[]): Promise<string> {
  const { stdout } = await run('ctr', ['--address', layout.containerdSocket, '--namespace', 'k8s.io', ...args], { encoding: 'utf8', timeout: 20_000 });
  return stdout;
}

/**
 * Imports the images under their tags, then adds the digest-named reference pods and
 * grants use (`repo@sha256:…`): the CRI plugin resolves an image by the names it has.
 */
export async function importImages(layout: NodeLayout, images: LocalImages): Promise<void> {
  for (const image of Object.values(images)) {
    await ctr(layout, ['images', 'import', image.archive]);
    await ctr(layout, ['images', 'tag', '--force', image.tag, image.ref]);
  }
}
