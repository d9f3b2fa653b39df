// The grants' work queue, and the one place a grant reconcile's result is acted on: the
// deadline it decided is armed before it acts and disarmed when it says so, a requeue is
// scheduled, an error goes to the queue's retry (controllerQueue: backoff; a permanent one slowly).
import type { DeadlineTimer } from '../revocation/deadline-timer.ts';
import type { WorkQueue } from '../runtime/work-queue.ts';
import type { GrantReconciler } from './grant-reconciler.ts';
import { controllerQueue, type QueueContext } from './queues.ts';

export class GrantController {
  readonly queue: WorkQueue;
  private readonly reconciler: GrantReconciler;
  private readonly deadlines: DeadlineTimer;

  constructor(reconciler: GrantReconciler, deadlines: DeadlineTimer, workers: number, ctx: QueueContext) {
    this.reconciler = reconciler;
    this.deadlines = deadlines;
    this.queue = controllerQueue('grant', workers, ctx, (key) => this.run(key));
  }

  /** Reconciles `key` and acts on the result; throws the reconcile's error (to the queue, or the start-up sweep). */
  async run(key: string): Promise<void> {
    const step = this.reconciler.decide(key);
    // Armed before anything is written: whichever write fails or hangs next, the deadline holds.
    const armed = step.decision?.deadline?.getTime();
    if (armed !== undefined) this.deadlines.set(key, armed);
    const result = await this.reconciler.act(step);
    if (result.deadline !== undefined) this.deadlines.set(key, result.deadline ?? undefined);
    if (result.requeueAfter !== undefined) this.queue.addAfter(key, result.requeueAfter);
    if (result.error !== undefined) throw result.error;
  }
}
