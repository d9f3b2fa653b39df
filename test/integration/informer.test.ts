// The informers against the real API server: paged lists (every pod seen, no response over
// one page; the streamed initial list is test/integration/watch-list.test.ts), a continue
// token expired by a real etcd compaction (410) recovered, cached pods
// holding only the kept fields, and an unreachable or refusing API server reported loudly.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { loopbackPort } from '../../hack/controlplane/processes.ts';
import { parseConfig } from '../../src/config.ts';
import type { CachedPod } from '../../src/kube/cached.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { podSource } from '../../src/kube/informers.ts';
import { Manager } from '../../src/manager.ts';
import { serveProbes } from '../../src/probes.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { httpStatus } from '../../src/runtime/errors.ts';
import { ResilientInformer, type ListWatchSource } from '../../src/runtime/informer.ts';
import { Semaphore } from '../../bench/semaphore.ts';
import { clientsFor, eventually, freshNamespace, kubeConfigFor, plane, writePodStatus } from '../support/cluster.ts';
import { addEphemeralContainer, debugContainer } from '../support/debug-containers.ts';
import { logSink } from '../support/log-sink.ts';
import { POD_FIELDS, fieldPaths, realisticPodSpec, runningStatus } from '../support/pods.ts';
import { EXEMPT } from '../support/policy.ts';

const IMAGE = `registry.example.com/shop/app@sha256:${'a'.repeat(64)}`;
const PODS = 500;
const PAGE = 50;

const waitFor = (cond: () => boolean): Promise<boolean> =>
  eventually(
    () => Promise.resolve(cond()),
    (ok) => ok,
    20_000,
  );

/** Compacts etcd up to its current revision: every continue token issued before is now expired. */
async function compactEtcd(): Promise<void> {
  const cmdline = readFileSync(`/proc/${String(plane().pids.etcd)}/cmdline`, 'utf8').split('\0');
  const url = cmdline.find((a) => a.startsWith('--listen-client-urls='))?.split('=')[1];
  if (!url) throw new Error('cannot find the etcd client URL');
  const range = await fetch(`${url}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('/').toString('base64') }) });
  const revision = ((await range.json()) as { header: { revision: string } }).header.revision;
  const res = await fetch(`${url}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision, physical: true }) });
  if (!res.ok) throw new Error(`etcd compaction failed: ${String(res.status)} ${await res.text()}`);
}

/** A continue token as a list that started at revision 1 would hold it (compacted away by now). */
function expiredToken(token: string): string {
  const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
  return Buffer.from(JSON.stringify({ ...decoded, rv: 1 })).toString('base64url');
}

/** The pod source, recording how many objects each list response carried, and their kinds. */
function recorded(base: ListWatchSource<CachedPod>): { source: ListWatchSource<CachedPod>; pages: number[]; kinds: Set<string> } {
  const pages: number[] = [];
  const kinds = new Set<string>();
  return {
    pages,
    kinds,
    source: {
      ...base,
      list: async (limit, token) => {
        const page = await base.list(limit, token);
        pages.push(page.items.length);
        for (const item of page.items) kinds.add(String((item as { kind?: unknown }).kind));
        return page;
      },
    },
  };
}

describe('informers against the real API server', () => {
  let namespace: string;
  const api = () => fromKubeConfig(kubeConfigFor('admin'));

  beforeAll(async () => {
    // Exempt from the admission policies: the test adds an ephemeral container without a grant.
    namespace = await freshNamespace('informer', EXEMPT);
    const core = clientsFor('admin').core;
    const limit = new Semaphore(16);
    await Promise.all(
      Array.from({ length: PODS }, (_, i) =>
        limit.run(async () => {
          const name = `pod-${String(i).padStart(3, '0')}`;
          await core.createNamespacedPod({ namespace, body: realisticPodSpec(name, { app: `app-${String(i % 7)}` }, IMAGE) });
          if (i % 10 === 0) await writePodStatus(namespace, name, runningStatus(i, IMAGE));
        }),
      ),
    );
  }, 120_000);

  test(`lists ${String(PODS)} pods as metadata in pages of ${String(PAGE)}: every pod seen once, no response larger than a page, then watches`, async () => {
    const { source, pages, kinds } = recorded(podSource(api(), namespace));
    const added = new Set<string>();
    const deleted = new Set<string>();
    const informer = new ResilientInformer(
      'pods',
      source,
      systemClock,
      logSink().log,
      (p, event) => {
        if (event === 'add') added.add(p.metadata?.name ?? '');
        if (event === 'delete') deleted.add(p.metadata?.name ?? '');
      },
      undefined,
      { pageSize: PAGE, initialList: 'pages' },
    );
    try {
      await informer.start();
      expect(added.size).toBe(PODS);
      expect(informer.list(namespace)).toHaveLength(PODS);
      expect(pages).toHaveLength(PODS / PAGE);
      expect(Math.max(...pages)).toBeLessThanOrEqual(PAGE);
      // The API server sent metadata only (no spec, no status), and the cache keeps only the kept fields of it.
      expect([...kinds]).toEqual(['PartialObjectMetadata']);
      const outside = informer.list(namespace).flatMap((p) => fieldPaths(p).filter((f) => !POD_FIELDS.some((re) => re.test(f))));
      expect([...new Set(outside)]).toEqual([]);
      expect(informer.list(namespace).filter((p) => p.spec !== undefined || p.status !== undefined)).toEqual([]);
      expect(informer.get('pod-010', namespace)?.metadata).toMatchObject({ generation: 1, labels: { app: 'app-3' } });
      // The watch carries on from the list: an ephemeral container raises the pod's generation (how the pod cache knows to read it whole).
      await addEphemeralContainer('admin', namespace, 'pod-002', debugContainer('dbg', IMAGE, 'restricted'));
      await waitFor(() => informer.get('pod-002', namespace)?.metadata?.generation === 2);
      // A pod that finishes leaves the selection (status.phase!=Succeeded,Failed): the watch reports it deleted.
      await writePodStatus(namespace, 'pod-001', { ...runningStatus(1, IMAGE), phase: 'Failed' });
      await waitFor(() => deleted.has('pod-001'));
      expect(informer.get('pod-001', namespace)).toBeUndefined();
      expect(informer.list(namespace)).toHaveLength(PODS - 1);
    } finally {
      await informer.stop();
    }
  });

  test('a continue token that expired mid-list (410 from the API server) starts a fresh list and still sees every pod', async () => {
    // The third page is asked with the token a list that began before an etcd compaction
    // holds (the same token, its snapshot revision older than the compaction): what a slow
    // start sees when the API server compacts (every 5 minutes) while it pages.
    await compactEtcd();
    const base = podSource(api(), namespace);
    const statuses: (number | undefined)[] = [];
    let calls = 0;
    const { source, pages } = recorded({
      ...base,
      list: async (limit, token) => {
        calls++;
        try {
          return await base.list(limit, calls === 3 && token ? expiredToken(token) : token);
        } catch (err) {
          statuses.push(httpStatus(err));
          throw err;
        }
      },
    });
    const { log, lines } = logSink();
    const informer = new ResilientInformer('pods', source, systemClock, log, () => undefined, undefined, { pageSize: PAGE, initialList: 'pages' });
    try {
      await informer.start();
      expect(statuses).toEqual([410]);
      expect(lines.some((l) => String(l.msg).includes('continue token expired (410)'))).toBe(true);
      // 2 pages, the 410, then a whole list from the start.
      expect(pages).toHaveLength(2 + PODS / PAGE);
      expect(Math.max(...pages)).toBeLessThanOrEqual(PAGE);
      // Every pod but the one the test before finished (pod-001).
      expect(informer.list(namespace)).toHaveLength(PODS - 1);
      expect(informer.ready).toBe(true);
    } finally {
      await informer.stop();
    }
  });

  test('an unreachable API server: an error line naming the server and the cause, and /readyz not ready with the reason', async () => {
    const port = await loopbackPort();
    const dead = `https://127.0.0.1:${String(port)}`;
    const kc = kubeConfigFor('admin');
    const moved = new k8s.KubeConfig();
    moved.loadFromOptions({
      clusters: kc.getClusters().map((c) => ({ ...c, server: dead })),
      users: kc.getUsers(),
      contexts: kc.getContexts(),
      currentContext: kc.getCurrentContext(),
    });
    const { log, lines } = logSink();
    const config = parseConfig({ approvedRegistries: ['registry.example.com/debug/'], namespaces: [namespace] });
    const manager = new Manager({ api: fromKubeConfig(moved), config, log, identity: 'unreachable-test', processMetrics: false, onFatal: () => undefined });
    const server = await serveProbes(manager, { host: '127.0.0.1', port: 0 });
    try {
      void manager.start();
      await waitFor(() => lines.some((l) => l.level === 50));
      // The deadline revoker's informers (grants, indexes, RoleBindings) start first, in every replica.
      const error = lines.find((l) => l.level === 50 && l.informer === `debuggrants@${namespace}`);
      expect(error).toMatchObject({ server: dead });
      expect(String(error?.msg)).toContain(`connection refused (${dead})`);
      expect(JSON.stringify(error)).not.toContain('    at ');
      // Every informer reports its own failure once its first attempt failed.
      const readyz = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/readyz`;
      const want = [`debuggrants@${namespace}: connection refused (${dead})`, `rolebindings@${namespace}: connection refused (${dead})`];
      const { status, body } = await eventually(
        async () => {
          const res = await fetch(readyz);
          return { status: res.status, body: await res.text() };
        },
        (r) => want.every((w) => r.body.includes(w)),
        20_000,
      );
      expect(status).toBe(503);
      expect(body.startsWith('not ready:\n')).toBe(true);
      // Rate-limited: several retries (every ≤ 2 s) give one line per informer, not one per attempt.
      const attempts = (): number => Number(/debuggrants@\S+: connection refused[^\n]*?(\d+) attempts/.exec(manager.notReady.join('\n'))?.[1] ?? 0);
      await eventually(
        () => Promise.resolve(attempts()),
        (n) => n >= 3,
        20_000,
        50,
      );
      const perInformer = lines.filter((l) => l.level === 50 && l.informer === `debuggrants@${namespace}`);
      expect(perInformer).toHaveLength(1);
    } finally {
      server.close();
      await manager.stop();
    }
  });

  test('a refusing API server (403): the reason names the permission that is missing', async () => {
    const { log, lines } = logSink();
    // bob may not list pods in this namespace.
    const informer = new ResilientInformer('pods', podSource(fromKubeConfig(kubeConfigFor('bob')), namespace), systemClock, log, () => undefined);
    try {
      void informer.start();
      await waitFor(() => informer.notReadyReason?.includes('403') === true);
      // The initial list is streamed: a watch request, so the verb the API server names is watch.
      expect(informer.notReadyReason).toMatch(
        /403 Forbidden from https:\/\/127\.0\.0\.1:\d+: pods is forbidden: User "bob" cannot watch resource "pods" in API group "" in the namespace/,
      );
      expect(lines.filter((l) => l.level === 50)).toHaveLength(1);
    } finally {
      await informer.stop();
    }
  });
});
