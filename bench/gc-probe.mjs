// Benchmark only, never in the image: preloaded into an operator started with
// `--expose-gc --import bench/gc-probe.mjs`. On SIGUSR2 it runs a full garbage collection
// and writes the process's memory to BENCH_GC_PROBE_FILE, so the benchmark reports live
// data rather than whatever garbage the last collection left. With BENCH_HEAP_SNAPSHOT_DIR
// set it also writes a heap snapshot there (to name what retains the heap). Plain
// JavaScript: a .ts preload would load Node's TypeScript stripper (~17 MB RSS) into the
// bundle it measures.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { writeHeapSnapshot } from 'node:v8';

const out = process.env.BENCH_GC_PROBE_FILE;
const snapshots = process.env.BENCH_HEAP_SNAPSHOT_DIR;
const gc = globalThis.gc;
if (out && gc) {
  process.on('SIGUSR2', () => {
    gc();
    const m = process.memoryUsage();
    const snapshot = snapshots ? writeHeapSnapshot(join(snapshots, `operator-${String(process.pid)}-${String(Date.now())}.heapsnapshot`)) : undefined;
    writeFileSync(
      out,
      JSON.stringify({
        rssBytes: m.rss,
        heapUsedBytes: m.heapUsed,
        heapTotalBytes: m.heapTotal,
        externalBytes: m.external,
        arrayBuffersBytes: m.arrayBuffers,
        snapshot,
      }),
    );
  });
}
