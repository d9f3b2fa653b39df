// Reconcile one pod's lingering flag: running ephemeral containers on a pod that no
// Active grant covers get an annotation, a Warning Event and one audit line each; the flag
// goes away when they stop. Covers containers left after expiry and ones added outside any grant.
// A debug container still running OVERDUE_GRACE_MS after the deadline its wrapper carries means
// the wrapper failed (killed from inside, a node clock far behind): a Warning Event, a metric
// (debuggrant_debug_containers_past_deadline) and an alert name it.
import { LINGERING_ANNOTATION } from '../../api/names.ts';
import type { CachedPod } from '../../kube/cached.ts';
import { splitKey } from '../../runtime/object-key.ts';
import type { PodReconcilerDeps } from '../pod-context.ts';
import { setLingeringAnnotation } from '../../kube/pods.ts';
import { audit } from '../../log.ts';
import {
  coveredPods,
  flaggedContainers,
  lingeringAnnotation,
  lingeringOn,
  overdueSessions,
  runningEphemeralContainers,
  type RunningEphemeral,
} from './lingering.ts';

/** What happens next for the pod: look again after this long (a wrapper's deadline + grace). */
export interface PodResult {
  requeueAfter?: number;
}

export class LingeringReconciler {
  private readonly d: PodReconcilerDeps;
  private readonly counts = new Map<string, number>();
  /** Per pod, the overdue containers already told (an Event once each). */
  private readonly overdue = new Map<string, Set<string>>();

  constructor(deps: PodReconcilerDeps) {
    this.d = deps;
  }

  /** `pod`: as Caches.podNow() has it (a finished one too: its flag comes off); undefined when it is gone. */
  async reconcile(key: string, pod: CachedPod | undefined): Promise<PodResult> {
    const { namespace } = splitKey(key);
    const lingering = pod ? lingeringOn(pod, coveredPods(this.d.grants.list(namespace)), this.d.clock.now()) : [];
    this.count(key, lingering.length);
    const requeueAfter = await this.checkOverdue(key, pod);
    if (pod) await this.flag(key, pod, lingering);
    return { requeueAfter };
  }

  /** The lingering annotation, and for containers not flagged before a Warning Event and an audit line each. */
  private async flag(key: string, pod: CachedPod, lingering: readonly RunningEphemeral[]): Promise<void> {
    const { namespace, name } = splitKey(key);
    this.d.log.debug({ kind: 'Pod', namespace, name, running: runningEphemeralContainers(pod).length, lingering: lingering.length }, 'lingering checked');
    const want = lingeringAnnotation(lingering);
    const have = pod.metadata?.annotations?.[LINGERING_ANNOTATION] ?? null;
    if (want === have) return;
    await setLingeringAnnotation(this.d.api, namespace, name, want);
    const before = flaggedContainers(have);
    const fresh = lingering.filter((l) => !before.has(l.container));
    if (fresh.length === 0) return;
    const what = fresh.map((l) => `${l.container}=${l.image}`).join(',');
    await this.d.events.send(
      { apiVersion: 'v1', kind: 'Pod', namespace, name, uid: pod.metadata?.uid },
      'Warning',
      'LingeringEphemeralContainer',
      `ephemeral containers running with no active DebugGrant covering this pod: ${what}`,
    );
    const log = this.d.log.child({ kind: 'Pod', namespace, name });
    for (const l of fresh) {
      audit(log, {
        event: 'pod.lingering',
        grant: '',
        subject: '',
        pods: [name],
        by: this.d.identity,
        at: new Date(this.d.clock.now()).toISOString(),
        reason: `ephemeral container ${l.container} (${l.image}) running with no active DebugGrant covering this pod`,
      });
    }
  }

  /** Debug containers running past their wrapper's deadline: told once each. Returns when to look again. */
  private async checkOverdue(key: string, pod: CachedPod | undefined): Promise<number | undefined> {
    const now = this.d.clock.now();
    const { overdue, recheckAt } = pod ? overdueSessions(pod, now) : { overdue: [], recheckAt: undefined };
    const lookAgainAfter = recheckAt === undefined ? undefined : recheckAt - now;
    const told = this.overdue.get(key) ?? new Set<string>();
    const fresh = overdue.filter((o) => !told.has(o.container));
    if (overdue.length === 0) this.overdue.delete(key);
    else this.overdue.set(key, new Set(overdue.map((o) => o.container)));
    let total = 0;
    for (const v of this.overdue.values()) total += v.size;
    this.d.metrics.overdueDebugContainers.set(total);
    if (!pod || fresh.length === 0) return lookAgainAfter;
    const { namespace, name } = splitKey(key);
    const what = fresh
      .map((o) => `${o.container} (${o.image}, deadline ${new Date(o.deadline).toISOString()}, ${((now - o.deadline) / 1000).toFixed(1)} s ago)`)
      .join(', ');
    this.d.log.warn({ kind: 'Pod', namespace, name, containers: fresh.map((o) => o.container) }, 'debug containers running past their deadline');
    await this.d.events.send(
      { apiVersion: 'v1', kind: 'Pod', namespace, name, uid: pod.metadata?.uid },
      'Warning',
      'DebugContainerPastDeadline',
      `debug containers still running after the deadline their wrapper carries, so it did not end them (killed from inside the container, or the node's clock behind): ${what}`,
    );
    return lookAgainAfter;
  }

  private count(key: string, n: number): void {
    if (n === 0) this.counts.delete(key);
    else this.counts.set(key, n);
    let total = 0;
    for (const v of this.counts.values()) total += v;
    this.d.metrics.lingeringContainers.set(total);
  }
}
