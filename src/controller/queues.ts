// A work queue as each controller uses it: timed (reconcile duration), failures counted and
// logged, temporary errors retried with the queue's capped, jittered backoff and permanent
// ones (the API server refused outright) after minutes, not a hammer.
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Clock } from '../runtime/clock.ts';
import { describeError, isPermanent } from '../runtime/errors.ts';
import { WorkQueue, type Handler } from '../runtime/work-queue.ts';

/** A request the API server refused outright is tried again after this long. */
const PERMANENT_RETRY_MS = 5 * 60_000;

export interface QueueContext {
  clock: Clock;
  log: Logger;
  metrics: Metrics;
}

export function controllerQueue(controller: string, workers: number, ctx: QueueContext, handler: Handler): WorkQueue {
  const timed: Handler = async (key) => {
    const end = ctx.metrics.reconcileDuration.startTimer({ controller });
    try {
      await handler(key);
    } finally {
      end();
    }
  };
  return new WorkQueue(timed, {
    workers,
    clock: ctx.clock,
    onError: (key, err, attempt) => {
      ctx.metrics.reconcileErrors.inc({ controller });
      const permanent = isPermanent(err);
      ctx.log.warn(
        { controller, key, attempt, permanent, err: describeError(err) },
        permanent ? 'reconcile refused; retrying slowly' : 'reconcile failed; retrying with backoff',
      );
    },
    retryDelay: (err) => (isPermanent(err) ? PERMANENT_RETRY_MS : undefined),
  });
}
