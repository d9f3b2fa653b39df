// Kubernetes Events are a courtesy (the status and the audit line are the record): a failed
// one is logged, never retried, never fails a reconcile. Those in flight are drained at stop,
// so none lands (or logs) after the operator has shut down.
import type { V1ObjectReference } from '@kubernetes/client-node';
import type { EventRecorder, EventType } from '../kube/events.ts';
import type { Logger } from '../log.ts';
import { apiMessage } from '../runtime/errors.ts';

export class EventSender {
  private readonly recorder: EventRecorder;
  private readonly log: Logger;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(recorder: EventRecorder, log: Logger) {
    this.recorder = recorder;
    this.log = log;
  }

  /** Sends the Event; the promise (which never rejects) is for callers that want to wait. */
  send(target: V1ObjectReference, type: EventType, reason: string, message: string): Promise<void> {
    const sending = this.recorder
      .record(target, type, reason, message)
      .catch((err: unknown) => {
        this.log.warn({ err: apiMessage(err), reason }, 'could not record event');
      })
      .finally(() => {
        this.inFlight.delete(sending);
      });
    this.inFlight.add(sending);
    return sending;
  }

  /** Events sent and not answered yet. */
  get pending(): number {
    return this.inFlight.size;
  }

  /** Resolves once every Event sent so far has been answered. */
  async idle(): Promise<void> {
    await Promise.all(this.inFlight);
  }
}
