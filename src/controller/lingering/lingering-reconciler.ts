// Reconcile one pod's lingering flag: running ephemeral containers on a pod that no
// Active grant covers get an annotation, a Warning Event and one audit line each; the flag
// goes away when they stop. Covers containers left after expiry and ones added outside any grant.
import { LINGERING_ANNOTATION } from '../../api/names.ts';
import type { ReconcilerContext } from '../../runtime/reconciler-context.ts';
import { splitKey } from '../../runtime/object-key.ts';
import { setLingeringAnnotation } from '../../kube/pods.ts';
import { audit } from '../../log.ts';
import { apiMessage } from '../../runtime/errors.ts';
import { coveredPods, flaggedContainers, lingeringAnnotation, lingeringOn, runningEphemeralContainers } from './lingering.ts';

export class LingeringReconciler {
  private readonly d: ReconcilerContext;
  private readonly counts = new Map<string, number>();

  constructor(deps: ReconcilerContext) {
    this.d = deps;
  }

  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const pod = this.d.pods.get(name, namespace);
    const lingering = pod ? lingeringOn(pod, coveredPods(this.d.grants.list(namespace))) : [];
    this.count(key, lingering.length);
    if (!pod) return;
    this.d.log.debug({ kind: 'Pod', namespace, name, running: runningEphemeralContainers(pod).length, lingering: lingering.length }, 'lingering checked');
    const want = lingeringAnnotation(lingering);
    const have = pod.metadata?.annotations?.[LINGERING_ANNOTATION] ?? null;
    if (want === have) return;
    await setLingeringAnnotation(this.d.api, namespace, name, want);
    const before = flaggedContainers(have);
    const fresh = lingering.filter((l) => !before.has(l.container));
    if (fresh.length === 0) return;
    const what = fresh.map((l) => `${l.container}=${l.image}`).join(',');
    try {
      await this.d.events.record({ apiVersion: 'v1', kind: 'Pod', namespace, name, uid: pod.metadata?.uid }, 'Warning', 'LingeringEphemeralContainer',
        `ephemeral containers running with no active DebugGrant covering this pod: ${what}`);
    } catch (err) {
      this.d.log.warn({ err: apiMessage(err) }, 'could not record event');
    }
    const log = this.d.log.child({ kind: 'Pod', namespace, name });
    for (const l of fresh) {
      audit(log, {
        event: 'pod.lingering', grant: '', subject: '', pods: [name], by: this.d.identity, at: new Date(this.d.clock.now()).toISOString(),
        reason: `ephemeral container ${l.container} (${l.image}) running with no active DebugGrant covering this pod`,
      });
    }
  }

  private count(key: string, n: number): void {
    if (n === 0) this.counts.delete(key);
    else this.counts.set(key, n);
    let total = 0;
    for (const v of this.counts.values()) total += v;
    this.d.metrics.lingeringContainers.set(total);
  }
}
