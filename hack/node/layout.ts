// Where one run's node keeps everything it creates. Paths, the bridge, the cgroup root and
// the CNI network carry the run's id, so concurrent runs on one machine (and the API-server-only
// test runs beside them) never share state; `stop` removes exactly what the layout names.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export interface NodeLayout {
  id: string;
  dir: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  cniConfDir: string;
  cniIpamDir: string;
  kubeletRoot: string;
  podLogsDir: string;
  /** Linux bridge of the pod network (at most 15 characters). */
  bridge: string;
  /** The kubelet's cgroupRoot: pods' cgroups live under it, in every hierarchy. */
  cgroupRoot: string;
  /** A /24 in 10.200.0.0/16 for pod addresses; with no gateway on the bridge it routes nowhere. */
  podSubnet: string;
}

export function nodeLayout(dir: string, id = randomBytes(3).toString('hex')): NodeLayout {
  return {
    id,
    dir,
    containerdRoot: join(dir, 'containerd', 'root'),
    containerdState: join(dir, 'containerd', 'state'),
    containerdSocket: join(dir, 'containerd', 'containerd.sock'),
    cniConfDir: join(dir, 'cni', 'net.d'),
    cniIpamDir: join(dir, 'cni', 'ipam'),
    kubeletRoot: join(dir, 'kubelet'),
    podLogsDir: join(dir, 'pod-logs'),
    bridge: `dg${id}`,
    cgroupRoot: `/debuggrant-${id}`,
    podSubnet: `10.200.${String(parseInt(id.slice(0, 2), 16))}.0/24`,
  };
}
