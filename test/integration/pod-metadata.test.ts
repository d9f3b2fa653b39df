// What the pod informer parses and keeps, against the real API server: managedFields (most
// of every object it sends, none of what the operator reads) are cut before parsing, in
// list pages, watch events and whole-pod reads alike, while everything the operator does
// read still arrives: labels (one named managedFields included), the sessions annotation,
// the controller owner, the generation an ephemeral container raises, and that container
// with its status in the whole pod.
import * as k8s from '@kubernetes/client-node';
import { SESSIONS_ANNOTATION } from '../../src/api/names.ts';
import { Caches } from '../../src/controller/caches.ts';
import type { CachedPod } from '../../src/kube/cached.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { podSource, readPod } from '../../src/kube/informers.ts';
import { makeLogger } from '../../src/log.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { ResilientInformer, type ListWatchSource } from '../../src/runtime/informer.ts';
import { clientsFor, eventually, freshNamespace, kubeConfigFor, writePodStatus } from '../support/cluster.ts';
import { addEphemeralContainer, debugContainer } from '../support/debug-containers.ts';
import { realisticPodSpec, runningStatus } from '../support/pods.ts';
import { EXEMPT } from '../support/policy.ts';

const IMAGE = `registry.example.com/shop/app@sha256:${'a'.repeat(64)}`;
const OWNER = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'shop-7c9f8d6b5', uid: '0b6d3f7e-1c7a-4e0a-9a53-6f1d2b3c4d5e', controller: true };

type Raw = { metadata?: { managedFields?: unknown[] } };
const managed = (o: unknown): number => (o as Raw | undefined)?.metadata?.managedFields?.length ?? 0;

/** The pod source, recording every object it hands over as parsed (list items and watch events but bookmarks). */
function recorded(base: ListWatchSource<CachedPod>): { source: ListWatchSource<CachedPod>; parsed: unknown[] } {
  const parsed: unknown[] = [];
  return {
    parsed,
    source: {
      ...base,
      list: async (limit, token) => {
        const page = await base.list(limit, token);
        parsed.push(...page.items);
        return page;
      },
      watch: (rv, onEvent, opts) =>
        base.watch(
          rv,
          (type, object) => {
            if (type !== 'BOOKMARK') parsed.push(object);
            onEvent(type, object);
          },
          opts,
        ),
    },
  };
}

describe('pods as the informer parses them (real API server)', () => {
  let namespace: string;
  const api = () => fromKubeConfig(kubeConfigFor('admin'));

  beforeAll(async () => {
    // Exempt from the ephemeral-container policies: the test adds one without a grant.
    namespace = await freshNamespace('pod-metadata', EXEMPT);
    const core = clientsFor('admin').core;
    for (const name of ['web-1', 'web-2']) {
      const pod = realisticPodSpec(name, { app: 'shop', managedFields: 'kept' }, IMAGE);
      pod.metadata = { ...pod.metadata, ownerReferences: [OWNER], annotations: { ...pod.metadata?.annotations, [SESSIONS_ANNOTATION]: 'dbg=outside' } };
      await core.createNamespacedPod({ namespace, body: pod, fieldManager: 'kube-controller-manager' });
      await writePodStatus(namespace, name, runningStatus(1, IMAGE));
    }
  }, 60_000);

  test('list and watch: no managedFields parsed, yet labels, our annotation, owner and generation all there', async () => {
    // The API server does send them: most of each object.
    const sent = await clientsFor('admin').core.readNamespacedPod({ namespace, name: 'web-1' });
    expect(sent.metadata?.managedFields?.map((m) => m.manager).sort()).toEqual(expect.arrayContaining(['kube-controller-manager']));

    const { source, parsed } = recorded(podSource(api(), namespace));
    const informer = new ResilientInformer('pods', source, systemClock, makeLogger('silent'), () => undefined);
    try {
      await informer.start();
      expect(parsed).toHaveLength(2);
      expect(parsed.map(managed)).toEqual([0, 0]);
      expect(informer.get('web-1', namespace)?.metadata).toMatchObject({
        name: 'web-1',
        namespace,
        generation: 1,
        labels: { app: 'shop', managedFields: 'kept' },
        annotations: { [SESSIONS_ANNOTATION]: 'dbg=outside' },
        ownerReferences: [OWNER],
      });
      expect(informer.get('web-1', namespace)?.metadata?.annotations).toEqual({ [SESSIONS_ANNOTATION]: 'dbg=outside' });

      // Watch events: an ephemeral container raises the generation; a status write changes nothing the cache keeps but the version.
      await addEphemeralContainer('admin', namespace, 'web-2', debugContainer('dbg', IMAGE, 'restricted'));
      await eventually(
        () => Promise.resolve(informer.get('web-2', namespace)?.metadata?.generation),
        (g) => g === 2,
        20_000,
      );
      await clientsFor('admin').core.patchNamespacedPod(
        { namespace, name: 'web-2', body: { metadata: { annotations: { [SESSIONS_ANNOTATION]: 'dbg=grant:g-1' } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await eventually(
        () => Promise.resolve(informer.get('web-2', namespace)?.metadata?.annotations?.[SESSIONS_ANNOTATION]),
        (a) => a === 'dbg=grant:g-1',
        20_000,
      );
      expect(parsed.length).toBeGreaterThan(2);
      expect(parsed.map(managed).every((n) => n === 0)).toBe(true);
      expect(informer.get('web-2', namespace)?.metadata).toMatchObject({ labels: { app: 'shop', managedFields: 'kept' }, ownerReferences: [OWNER] });
    } finally {
      await informer.stop();
    }
  });

  test('a whole pod read (pods with ephemeral containers): the container and its status, no managedFields', async () => {
    await addEphemeralContainer('admin', namespace, 'web-1', debugContainer('dbg', IMAGE, 'restricted'));
    await writePodStatus(namespace, 'web-1', {
      ...runningStatus(2, IMAGE),
      ephemeralContainerStatuses: [{ name: 'dbg', image: IMAGE, imageID: '', ready: false, restartCount: 0, state: { running: { startedAt: new Date() } } }],
    });
    const whole = (await readPod(api(), namespace, 'web-1')) as Raw & {
      spec?: { ephemeralContainers?: { name: string; image: string }[] };
      status?: { ephemeralContainerStatuses?: { name: string; state?: { running?: unknown } }[] };
      metadata?: { annotations?: Record<string, string>; generation?: number };
    };
    expect(managed(whole)).toBe(0);
    expect(whole.metadata?.generation).toBe(2);
    expect(whole.metadata?.annotations?.[SESSIONS_ANNOTATION]).toBe('dbg=outside');
    expect(whole.spec?.ephemeralContainers).toEqual([expect.objectContaining({ name: 'dbg', image: IMAGE })]);
    expect(whole.status?.ephemeralContainerStatuses).toEqual([expect.objectContaining({ name: 'dbg', state: { running: expect.anything() as unknown } })]);
  });

  test("a kubelet's status write tells no pod handler (only the version moved); a label change does", async () => {
    // A pod nobody debugged (generation 1): a pod with ephemeral containers is read whole again at every change, and told after.
    const core = clientsFor('admin').core;
    await core.createNamespacedPod({ namespace, body: realisticPodSpec('web-3', { app: 'shop' }, IMAGE), fieldManager: 'kube-controller-manager' });
    const caches = new Caches(api(), [namespace], 'debuggrant-system', systemClock, makeLogger('silent'));
    const told: string[] = [];
    caches.onPod((p) => told.push(`${p.metadata?.name ?? ''}@${p.metadata?.resourceVersion ?? ''}`));
    try {
      await caches.podMetadata.start();
      await caches.podDetails.settled();
      told.length = 0;
      const written = await writePodStatus(namespace, 'web-3', runningStatus(9, IMAGE));
      await eventually(
        () => Promise.resolve(caches.podMetadata.get('web-3', namespace)?.metadata?.resourceVersion),
        (rv) => rv === written.metadata?.resourceVersion,
        20_000,
      );
      expect(told).toEqual([]);
      const relabelled = await core.patchNamespacedPod(
        { namespace, name: 'web-3', body: { metadata: { labels: { tier: 'web' } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await eventually(
        () => Promise.resolve(told),
        (t) => t.includes(`web-3@${relabelled.metadata?.resourceVersion ?? ''}`),
        20_000,
      );
    } finally {
      await caches.podMetadata.stop();
    }
  });
});
