// kube-controller-manager and kube-scheduler from the pinned module: with them ReplicaSets
// replace evicted pods, owned objects are garbage-collected, namespaces get their `default`
// ServiceAccount and `kube-root-ca.crt`, and pods are scheduled to the local node.
// Neither serves anything (--secure-port=0): nothing needs their endpoints here.
import { join } from 'node:path';
import { startProcess, type Started } from '../controlplane/processes.ts';
import type { PlaneState } from '../controlplane/plane.ts';

export function startControllerManager(plane: PlaneState, binDir: string, dir: string): Started {
  return startProcess(
    'kube-controller-manager',
    join(binDir, 'kube-controller-manager'),
    [
      `--kubeconfig=${plane.kubeconfig}`,
      '--secure-port=0',
      '--leader-elect=false',
      // The ServiceAccount admission plugin mounts kube-root-ca.crt into every pod.
      `--root-ca-file=${plane.caFile}`,
      `--service-account-private-key-file=${join(plane.dir, 'pki', 'sa.key')}`,
      '--use-service-account-credentials=false',
      '--v=1',
    ],
    join(dir, 'kube-controller-manager.log'),
  );
}

export function startScheduler(plane: PlaneState, binDir: string, dir: string): Started {
  return startProcess(
    'kube-scheduler',
    join(binDir, 'kube-scheduler'),
    [`--kubeconfig=${plane.kubeconfig}`, '--secure-port=0', '--leader-elect=false', '--v=1'],
    join(dir, 'kube-scheduler.log'),
  );
}
