// The kubelet of the local node: registered as `localhost` (the API server dials a node's
// Hostname address for exec, attach, logs and port-forward, and the kubelet refuses a
// loopback --node-ip), serving on 127.0.0.1 only. Anonymous requests with AlwaysAllow are
// acceptable only because nothing off this machine can reach it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startProcess, type Started } from '../controlplane/processes.ts';
import type { NodeLayout } from './layout.ts';

export const NODE_NAME = 'localhost';

export interface KubeletPorts {
  port: number;
  healthzPort: number;
}

function config(layout: NodeLayout, ports: KubeletPorts): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: '127.0.0.1',
    port: ports.port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: ports.healthzPort,
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
    // This machine mounts cgroup v1 (with a cgroup2 hierarchy beside it) and has swap.
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    cgroupRoot: layout.cgroupRoot,
    podLogsDir: layout.podLogsDir,
    volumePluginDir: join(layout.kubeletRoot, 'volume-plugins'),
    // Leave the machine's iptables alone: nothing here needs the kubelet's chains.
    makeIPTablesUtilChains: false,
    // The images cannot be pulled again: never garbage-collect them, never evict for disk.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    serializeImagePulls: false,
    shutdownGracePeriod: '0s',
    rotateCertificates: false,
  };
}

export function startKubelet(layout: NodeLayout, bin: string, kubeconfig: string, ports: KubeletPorts): Started {
  mkdirSync(layout.kubeletRoot, { recursive: true });
  mkdirSync(layout.podLogsDir, { recursive: true });
  const file = join(layout.dir, 'kubelet.yaml');
  writeFileSync(file, stringify(config(layout, ports)));
  return startProcess(
    'kubelet',
    bin,
    [`--config=${file}`, `--kubeconfig=${kubeconfig}`, `--root-dir=${layout.kubeletRoot}`, `--hostname-override=${NODE_NAME}`, '--v=1'],
    join(layout.dir, 'kubelet.log'),
  );
}
