// `npm run bench -- sessions`: how long after the grant's deadline do sessions opened before it
// last? On the real local node (control plane, kubelet, containerd) with the shipped admission
// policies: per round, one grant on BENCH_SESSION_PODS pods, and on each pod a `kubectl debug -it`
// shell and a `kubectl exec -it` shell printing a line every 0.2 s, plus an `attach`, a
// `logs -f` and a `port-forward` (a new HTTP connection every 0.2 s) of a pod's own container; half the rounds with the operator running,
// half with it stopped after the sessions opened (before the deadline). Measures "last output
// through the stream − the deadline" (the wrapper kills at the deadline's second on the node's
// clock; the rest is the stream closing). Defaults: 5 pods, 8 rounds: 20 debug and 20 exec
// sessions each with the operator up and down. Prints a table and the load average.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { installAdmission, installCrds } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane } from '../hack/controlplane/plane.ts';
import { startNodeIfPossible, stopNode } from '../hack/node/node.ts';
import { TEST_POLICY } from '../test/support/policy.ts';
import { ms, summarize, table } from './stats.ts';

const PODS = Number(process.env.BENCH_SESSION_PODS ?? 5);
const ROUNDS = Number(process.env.BENCH_SESSION_ROUNDS ?? 8);
const TTL_S = 30;
/** How long after the deadline the unbounded kinds are watched before giving up on them. */
const WATCH_UNBOUNDED_MS = 10_000;
const say = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};
const uptime = (): string => execFileSync('uptime', { encoding: 'utf8' }).trim();

export async function benchSessions(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-bench-sessions-'));
  say(uptime());
  const state = await startControlPlane({ dir: join(dir, 'plane'), binDir: ensureBinaries(), progress: say });
  const outcome = await startNodeIfPossible({ plane: state, dir: join(dir, 'node'), progress: say, require: true });
  try {
    installCrds(state);
    installAdmission(state, TEST_POLICY);
    // The test support reads where the plane and the node are from the environment.
    process.env.DEBUGGRANT_TEST_PLANE = state.dir;
    process.env.DEBUGGRANT_TEST_NODE = join(dir, 'node');
    const { measureRounds } = await import('./session-rounds.ts');
    const results = await measureRounds({ pods: PODS, rounds: ROUNDS, ttlSeconds: TTL_S, watchUnboundedMs: WATCH_UNBOUNDED_MS, say });
    const rows = results.map((r) => {
      const s = summarize(r.lateness);
      return [r.kind, r.operator, ms(s.p50), ms(s.p99), ms(s.max), String(s.n), r.note];
    });
    process.stdout.write(`\n${table(['access', 'operator', 'p50', 'p99', 'max', 'n', 'last output − deadline'], rows)}\n`);
    process.stdout.write(`load: ${uptime()}\n`);
  } finally {
    if (outcome.node) await stopNode(outcome.node);
    await stopControlPlane(state);
    rmSync(dir, { recursive: true, force: true });
  }
}
