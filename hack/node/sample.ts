// What `npm run local` runs on the real node: the shop namespace and a checkout Deployment
// (so `onExpiry: Evict` shows a pod replaced), with the locally assembled images.
import type { LocalImages } from './images.ts';

export function sampleWorkload(images: LocalImages): Record<string, unknown>[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'checkout', namespace: 'shop' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'checkout' } },
        template: {
          metadata: { labels: { app: 'checkout' } },
          spec: {
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 1,
            // The image exists only on this node: never pull.
            containers: [{ name: 'app', image: images.app.ref, imagePullPolicy: 'Never', command: ['sleep', 'inf'] }],
          },
        },
      },
    },
  ];
}
