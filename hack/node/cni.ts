// The pod network: a bridge with host-local addresses and no gateway, no masquerade and no
// port mapping, so no routes or iptables rules are added to the machine. Pods get an address
// (containerd reports the network ready only with a working CNI configuration) and reach
// nothing: exec, attach, logs and port-forward all go through the kubelet, not the pod network.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeLayout } from './layout.ts';

export const CNI_BIN_DIR = '/usr/lib/cni';

export function writeCniConfig(layout: NodeLayout): void {
  mkdirSync(layout.cniConfDir, { recursive: true });
  mkdirSync(layout.cniIpamDir, { recursive: true });
  const conf = {
    cniVersion: '1.0.0',
    name: `debuggrant-${layout.id}`,
    plugins: [
      {
        type: 'bridge',
        bridge: layout.bridge,
        isGateway: false,
        ipMasq: false,
        ipam: { type: 'host-local', ranges: [[{ subnet: layout.podSubnet }]], dataDir: layout.cniIpamDir },
      },
    ],
  };
  writeFileSync(join(layout.cniConfDir, '10-debuggrant.conflist'), JSON.stringify(conf, null, 2));
}
