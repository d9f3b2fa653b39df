// The informers' initial list streamed (WatchList) against the real API server: every pod
// arrives as an ADDED event of metadata, then the bookmark that ends them, and the same
// stream goes on as the watch (no LIST request at all); a stream asked for a resourceVersion
// the watch cache has not reached gets the server's "Too large resource version" and streams
// again from the most recent state; and a second API server on the same etcd with the
// WatchList gate off refuses the stream (422), so the informer lists in pages from then on.
import * as k8s from '@kubernetes/client-node';
import { startSecondApiServer } from '../../hack/controlplane/plane.ts';
import type { CachedPod } from '../../src/kube/cached.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { podSource } from '../../src/kube/informers.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { ResilientInformer, type ListWatchSource } from '../../src/runtime/informer.ts';
import { INITIAL_EVENTS_END } from '../../src/runtime/watch-list.ts';
import { Semaphore } from '../../bench/semaphore.ts';
import { clientsFor, eventually, freshNamespace, kubeConfigFor, mergePatch, plane } from '../support/cluster.ts';
import { logSink } from '../support/log-sink.ts';
import { realisticPodSpec } from '../support/pods.ts';

const IMAGE = `registry.example.com/shop/app@sha256:${'a'.repeat(64)}`;
const PODS = 300;

interface Recorded {
  source: ListWatchSource<CachedPod>;
  /** Objects per list response. */
  pages: number[];
  watches: { rv: string; initialEvents: boolean }[];
  /** Every event as `TYPE kind`, the end bookmark as `END`. */
  events: string[];
}

/** The pod source, recording its list responses, the watches it opens and the events they bring. `rewrite` may change a watch's resourceVersion. */
function recorded(base: ListWatchSource<CachedPod>, rewrite: (rv: string, call: number) => string = (rv) => rv): Recorded {
  const r: Recorded = { pages: [], watches: [], events: [], source: base };
  r.source = {
    ...base,
    list: async (limit, token) => {
      const page = await base.list(limit, token);
      r.pages.push(page.items.length);
      return page;
    },
    watch: (rv, onEvent, opts) => {
      const asked = rewrite(rv, r.watches.length);
      r.watches.push({ rv: asked, initialEvents: opts?.initialEvents ?? false });
      return base.watch(
        asked,
        (type, object) => {
          const meta = object as { kind?: string; metadata?: { annotations?: Record<string, string> } };
          r.events.push(meta.metadata?.annotations?.[INITIAL_EVENTS_END] === 'true' ? 'END' : `${type} ${String(meta.kind)}`);
          onEvent(type, object);
        },
        opts,
      );
    },
  };
  return r;
}

/** The admin's kubeconfig pointed at another API server. */
function adminAt(server: string): k8s.KubeConfig {
  const kc = kubeConfigFor('admin');
  const moved = new k8s.KubeConfig();
  moved.loadFromOptions({
    clusters: kc.getClusters().map((c) => ({ ...c, server })),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  return moved;
}

describe('the initial list streamed (WatchList) from the real API server', () => {
  let namespace: string;

  beforeAll(async () => {
    namespace = await freshNamespace('watch-list');
    const core = clientsFor('admin').core;
    const limit = new Semaphore(16);
    await Promise.all(
      Array.from({ length: PODS }, (_, i) =>
        limit.run(() =>
          core.createNamespacedPod({ namespace, body: realisticPodSpec(`pod-${String(i).padStart(3, '0')}`, { app: `app-${String(i % 7)}` }, IMAGE) }),
        ),
      ),
    );
  }, 120_000);

  test(`${String(PODS)} pods as ADDED metadata events, then the end bookmark; no LIST request; the same stream carries later changes`, async () => {
    const rec = recorded(podSource(fromKubeConfig(kubeConfigFor('admin')), namespace));
    const added = new Set<string>();
    const deleted = new Set<string>();
    const { log, lines } = logSink();
    const informer = new ResilientInformer('pods', rec.source, systemClock, log, (p, event) => {
      if (event === 'add') added.add(p.metadata?.name ?? '');
      if (event === 'delete') deleted.add(p.metadata?.name ?? '');
    });
    try {
      await informer.start();
      expect(rec.pages).toEqual([]);
      expect(rec.watches).toEqual([{ rv: '', initialEvents: true }]);
      expect(added.size).toBe(PODS);
      expect(informer.list(namespace)).toHaveLength(PODS);
      // Metadata only, every pod once, and nothing but them before the end bookmark.
      const end = rec.events.indexOf('END');
      expect(rec.events.slice(0, end)).toEqual(Array.from({ length: PODS }, () => 'ADDED PartialObjectMetadata'));
      expect(informer.ready).toBe(true);
      // The watch goes on on the same stream: a label change and a delete arrive, no second request.
      await clientsFor('admin').core.patchNamespacedPod({ namespace, name: 'pod-010', body: { metadata: { labels: { app: 'moved' } } } }, mergePatch);
      await clientsFor('admin').core.deleteNamespacedPod({ namespace, name: 'pod-011', gracePeriodSeconds: 0 });
      await eventually(() => Promise.resolve(informer.get('pod-010', namespace)?.metadata?.labels?.app === 'moved' && deleted.has('pod-011')), Boolean, 20_000);
      expect(rec.watches).toHaveLength(1);
      expect(rec.pages).toEqual([]);
      expect(lines.filter((l) => Number(l.level) >= 40)).toEqual([]);
    } finally {
      await informer.stop();
    }
  });

  test('a resourceVersion the watch cache has not reached: the server answers "Too large resource version"; streamed again from the most recent state', async () => {
    const core = clientsFor('admin').core;
    const current = (await core.listNamespacedPod({ namespace, limit: 1 })).metadata?.resourceVersion ?? '0';
    const ahead = String(BigInt(current) + 1_000_000n);
    const rec = recorded(podSource(fromKubeConfig(kubeConfigFor('admin')), namespace), (rv, call) => (call === 0 ? ahead : rv));
    const { log, lines } = logSink();
    const informer = new ResilientInformer('pods', rec.source, systemClock, log, () => undefined);
    try {
      await informer.start();
      expect(rec.watches).toEqual([
        { rv: ahead, initialEvents: true },
        { rv: '', initialEvents: true },
      ]);
      expect(rec.pages).toEqual([]);
      expect(informer.list(namespace)).toHaveLength(PODS - 1);
      const retried = lines.find((l) => String(l.msg).includes('Too large resource version'));
      expect(retried).toMatchObject({ informer: 'pods' });
      expect(String(retried?.cause)).toMatch(/HTTP 504 .*Too large resource version/);
      expect(lines.filter((l) => Number(l.level) >= 40)).toEqual([]);
    } finally {
      await informer.stop();
    }
  });

  test('an API server with the WatchList gate off refuses the stream (422): listed in pages, then watched, and never streamed again', async () => {
    const second = await startSecondApiServer(plane(), 'no-watchlist', ['--feature-gates=WatchList=false']);
    const rec = recorded(podSource(fromKubeConfig(adminAt(second.server)), namespace));
    const { log, lines } = logSink();
    const informer = new ResilientInformer('pods', rec.source, systemClock, log, () => undefined, undefined, { pageSize: 100 });
    try {
      await informer.start();
      expect(rec.watches[0]).toEqual({ rv: '', initialEvents: true });
      expect(rec.pages).toEqual([100, 100, PODS - 201]);
      expect(informer.list(namespace)).toHaveLength(PODS - 1);
      const refused = lines.filter((l) => String(l.msg).includes('does not stream initial lists'));
      expect(refused).toHaveLength(1);
      expect(String(refused[0]?.cause)).toContain('sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled');
      expect(lines.filter((l) => Number(l.level) >= 40)).toEqual([]);
      // Then an ordinary watch from the list's resourceVersion, through that server.
      await eventually(
        () => Promise.resolve(rec.watches.length),
        (n) => n === 2,
        10_000,
      );
      expect(rec.watches[1]?.initialEvents).toBe(false);
      await clientsFor('admin').core.patchNamespacedPod({ namespace, name: 'pod-012', body: { metadata: { labels: { app: 'moved' } } } }, mergePatch);
      await eventually(
        () => Promise.resolve(informer.get('pod-012', namespace)?.metadata?.labels?.app),
        (app) => app === 'moved',
        20_000,
      );
      expect(informer.ready).toBe(true);
    } finally {
      await informer.stop();
      await second.stop();
    }
  }, 150_000);
});
