// Kubernetes Events on grants and pods, so `kubectl describe` tells the story.
import type { V1ObjectReference } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { KubeApi } from './client.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(target: V1ObjectReference, type: EventType, reason: string, message: string): Promise<void>;
}

export function eventRecorder(api: KubeApi, component: string, now: () => Date): EventRecorder {
  return {
    async record(target, type, reason, message) {
      const namespace = target.namespace ?? 'default';
      const time = now();
      await api.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name: `${target.name ?? 'object'}.${time.getTime().toString(16)}${randomBytes(3).toString('hex')}`, namespace },
          involvedObject: target,
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component },
          reportingComponent: component,
          reportingInstance: component,
          firstTimestamp: time,
          lastTimestamp: time,
          eventTime: undefined,
          count: 1,
          action: reason,
        },
      });
    },
  };
}
