// npm run bench -- cache: what the operator's in-memory state costs, without a cluster.
// Heap per cached pod (the whole object minus managedFields, as before, against the kept
// fields of src/kube/cached.ts), the time to drain 50,000 keys from the work queue, and
// the resident memory a process has once it loaded Node, client-node, or all operator modules.
// Heap figures are live objects only: a full GC runs before each reading.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { cachedPod } from '../src/kube/cached.ts';
import { systemClock } from '../src/runtime/clock.ts';
import { WorkQueue } from '../src/runtime/work-queue.ts';
import { realisticPodSpec, runningStatus } from '../test/support/pods.ts';
import { REPO_ROOT } from '../hack/controlplane/install.ts';
import { IMAGE } from './cluster.ts';
import { table } from './stats.ts';

const PODS = Number(process.env.BENCH_CACHE_PODS ?? 50_000);
const KEYS = Number(process.env.BENCH_QUEUE_KEYS ?? 50_000);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function liveHeapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** A pod as JSON.parse makes it from the wire (strings, not model classes), with managedFields. */
function wirePod(i: number): unknown {
  const pod = { ...realisticPodSpec(`pod-${String(i)}`, { app: `svc-${String(i % 5)}` }, IMAGE), status: runningStatus(i, IMAGE) };
  const wire = JSON.parse(JSON.stringify(pod)) as { metadata: Record<string, unknown> };
  Object.assign(wire.metadata, {
    namespace: `bench-${String(i % 200).padStart(3, '0')}`,
    uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    resourceVersion: String(100000 + i),
    creationTimestamp: '2026-11-20T08:00:00Z',
    managedFields: [
      {
        manager: 'bench',
        operation: 'Update',
        apiVersion: 'v1',
        time: '2026-11-20T08:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': { 'f:containers': {} } },
      },
    ],
  });
  return wire;
}

function heapPerPod(keep: (raw: unknown) => unknown): { totalMb: number; bytesPerPod: number } {
  const before = liveHeapMb();
  const kept: unknown[] = [];
  for (let i = 0; i < PODS; i++) kept.push(keep(wirePod(i)));
  const after = liveHeapMb();
  if (kept.length !== PODS) throw new Error('unreachable');
  return { totalMb: after - before, bytesPerPod: ((after - before) * 2 ** 20) / PODS };
}

async function drainMs(): Promise<number> {
  const q = new WorkQueue(() => Promise.resolve(), { workers: 4, clock: systemClock });
  q.pause(true);
  for (let i = 0; i < KEYS; i++) q.add(`ns-${String(i % 200)}/pod-${String(i)}`);
  const t0 = performance.now();
  q.pause(false);
  await q.idle();
  return performance.now() - t0;
}

/** VmRSS (MB) of a fresh Node process once it has imported `modules` (nothing else running). */
function rssAfterImport(modules: string[]): number {
  const script = `${modules.map((m) => `await import(${JSON.stringify(m)});`).join(' ')} await new Promise((r) => setTimeout(r, 300));
    const s = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8'); process.stdout.write(/VmRSS:\\s+(\\d+)/.exec(s)[1]);`;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' })) / 1024;
}

export async function benchCacheCost(): Promise<void> {
  const whole = heapPerPod((raw) => {
    const o = raw as { metadata: { managedFields?: unknown } };
    delete o.metadata.managedFields;
    return o;
  });
  const slim = heapPerPod(cachedPod);
  const drain = await drainMs();
  const imports: [string, string[]][] = [
    ['Node.js alone', []],
    ['@kubernetes/client-node', ['@kubernetes/client-node']],
    ['zod, pino, prom-client, luxon', ['zod', 'pino', 'prom-client', 'luxon']],
    ['every operator module, from TypeScript sources', [join(REPO_ROOT, 'src/operator.ts')]],
  ];
  const rss = imports.map(([what, modules]) => [what, `${rssAfterImport(modules).toFixed(0)} MB`]);
  process.stdout.write(
    `\n${table(
      ['what', `${String(PODS)} pods in the cache`, 'per pod'],
      [
        ['whole pod, managedFields trimmed (before)', `${whole.totalMb.toFixed(1)} MB`, `${whole.bytesPerPod.toFixed(0)} B`],
        ['kept fields only (src/kube/cached.ts)', `${slim.totalMb.toFixed(1)} MB`, `${slim.bytesPerPod.toFixed(0)} B`],
      ],
    )}\n\nwork queue: ${String(KEYS)} keys drained in ${drain.toFixed(0)} ms\n\n${table(['a fresh process that loaded', 'RSS'], rss)}\n`,
  );
}
