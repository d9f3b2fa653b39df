// A pod as a cluster holds it (two containers, env, probes, volumes, managedFields and the
// status a kubelet writes), for the cache transform's tests and the benchmark's 50,000 pods.
import type { V1Pod, V1PodStatus } from '@kubernetes/client-node';

export function realisticPodSpec(name: string, labels: Record<string, string>, image: string): V1Pod {
  return {
    metadata: {
      name,
      labels: { ...labels, 'pod-template-hash': '7c9f8d6b5', 'app.kubernetes.io/version': '1.24.3' },
      annotations: {
        'kubectl.kubernetes.io/restartedAt': '2026-11-20T08:00:00Z',
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9090',
        'checksum/config': 'a'.repeat(64),
      },
    },
    spec: {
      automountServiceAccountToken: false,
      containers: ['app', 'sidecar'].map((c) => ({
        name: c,
        image,
        imagePullPolicy: 'IfNotPresent',
        ports: [
          { name: 'http', containerPort: 8080, protocol: 'TCP' },
          { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
        ],
        env: Array.from({ length: 12 }, (_, i) => ({ name: `SETTING_${String(i)}`, value: `value-${String(i)}-${'x'.repeat(24)}` })),
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
        livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10 },
        readinessProbe: { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 5 },
        volumeMounts: [
          { name: 'config', mountPath: '/etc/app', readOnly: true },
          { name: 'cache', mountPath: '/var/cache/app' },
        ],
        securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
      })),
      volumes: [
        { name: 'config', configMap: { name: 'app-config' } },
        { name: 'cache', emptyDir: {} },
      ],
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
      nodeName: 'node-1',
    },
  };
}

/** What a kubelet writes for a running pod (through the status subresource). */
export function runningStatus(seq: number, image: string): V1PodStatus {
  const t = new Date(Date.UTC(2026, 10, 20, 8, 0, seq % 60));
  return {
    phase: 'Running',
    podIP: `10.${String((seq >> 16) & 255)}.${String((seq >> 8) & 255)}.${String(seq & 255)}`,
    hostIP: '192.168.0.10',
    startTime: t,
    conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
      type,
      status: 'True',
      lastTransitionTime: t,
    })),
    containerStatuses: ['app', 'sidecar'].map((name) => ({
      name,
      image,
      imageID: `${image.split('@')[0] ?? image}@sha256:${'b'.repeat(64)}`,
      containerID: `containerd://${'c'.repeat(64)}`,
      ready: true,
      started: true,
      restartCount: seq % 3,
      state: { running: { startedAt: t } },
    })),
    qosClass: 'Burstable',
  };
}

/** Every leaf path of a JSON value, array positions written as []. */
export function fieldPaths(v: unknown, prefix = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x) => fieldPaths(x, `${prefix}[]`));
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => fieldPaths(x, prefix ? `${prefix}.${k}` : k));
  return [prefix];
}

/** The kept set, decided from what the operator reads (src/kube/cached.ts); tests check cached pods against it. */
export const POD_FIELDS = [
  /^metadata\.(name|namespace|uid|resourceVersion|deletionTimestamp|generation)$/,
  /^metadata\.labels\./,
  /^metadata\.annotations\.debuggrant\.dev\//,
  /^metadata\.ownerReferences\[\]\.(apiVersion|kind|name|uid|controller)$/,
  /^spec\.(hostNetwork|hostPID|hostIPC)$/,
  /^spec\.ephemeralContainers\[\]\.(name|image|securityContext\..*|command\[\]|args\[\]|targetContainerName)$/,
  /^status\.phase$/,
  /^status\.ephemeralContainerStatuses\[\]\.(name|image|state\.(running\.startedAt|waiting\.reason|terminated\.(reason|exitCode|startedAt|finishedAt)))$/,
];
