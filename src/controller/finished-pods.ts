// Pods that finished while no operator watched (stopped, restarting, or the finish missed) still
// carry the operator's records: a lingering flag, a session outside any grant told started and
// never ended. The pod informer watches unfinished pods only, so no event ever brings them back;
// this sweep finds them, at the leader's start and at each periodic resync, from finished pods
// listed as metadata a page at a time (nothing cached), and hands each to the pod queue, whose
// reconcile reads it and settles it (the flag off, the session's end told).
import { LINGERING_ANNOTATION, SESSIONS_ANNOTATION } from '../api/names.ts';
import type { CachedPod } from '../kube/cached.ts';
import { objectKey } from '../runtime/object-key.ts';
import { parseSessionsAnnotation } from './pod-sessions.ts';

/** Whether a finished pod still carries a record the pod reconcilers settle: a lingering flag, or a session told started and not ended. */
export function carriesOpenRecords(pod: CachedPod): boolean {
  const annotations = pod.metadata?.annotations ?? {};
  if (annotations[LINGERING_ANNOTATION] !== undefined) return true;
  return [...parseSessionsAnnotation(annotations[SESSIONS_ANNOTATION]).values()].some((c) => 'told' in c && c.told === 'started');
}

export interface FinishedPodSweepDeps {
  /** Each page of finished pods of a namespace (all when undefined), handed over and not kept (src/kube/pods.ts). */
  pages: (namespace: string | undefined, each: (pods: CachedPod[]) => void) => Promise<void>;
  /** The pod queue. */
  enqueue: (key: string) => void;
  /** The namespaces watched (empty: all). */
  namespaces: readonly string[];
}

export class FinishedPodSweep {
  private readonly d: FinishedPodSweepDeps;
  private pass: Promise<number> | undefined;

  constructor(deps: FinishedPodSweepDeps) {
    this.d = deps;
  }

  /** One pass over the finished pods; a pass already under way is joined, never run twice at once. Resolves with the pods enqueued. */
  sweep(): Promise<number> {
    this.pass ??= this.run().finally(() => {
      this.pass = undefined;
    });
    return this.pass;
  }

  private async run(): Promise<number> {
    let enqueued = 0;
    const scopes = this.d.namespaces.length > 0 ? this.d.namespaces : [undefined];
    for (const namespace of scopes) {
      await this.d.pages(namespace, (pods) => {
        for (const p of pods) {
          if (!carriesOpenRecords(p)) continue;
          this.d.enqueue(objectKey(p.metadata?.namespace ?? '', p.metadata?.name ?? ''));
          enqueued++;
        }
      });
    }
    return enqueued;
  }
}
