// npm run trials -- --count N [--entry bundle|sources]: crash trials against the real local
// control plane. Each trial creates grants, kills the operator process (SIGKILL) at a random
// moment of their lifecycles and starts it again after a random delay; SubjectAccessReview
// from outside is the judge (test/support/crash-trial.ts says what counts as a failure).
// The operator runs as it ships, from the bundle built from this checkout (what the image
// runs), unless `--entry sources`. Prints a table.
// npm run trials -- restart [--pods 0,10000] [--runs 3] [--entries bundle,sources,label=path]: restart
// time against pod count (bench/restart.ts).
import { mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { installCrds } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane } from '../hack/controlplane/plane.ts';
import { REPO_ROOT } from '../hack/controlplane/install.ts';
import { buildOperatorBundle, spawnOperator, type OperatorProcess } from '../hack/operator-process.ts';
import { crashTrial, summarizeTrials, type TrialResult, type TrialSetup } from '../test/support/crash-trial.ts';
import { APPROVED_REGISTRY } from '../test/support/policy.ts';
import { adminApi } from './cluster.ts';
import { benchRestart } from './restart.ts';
import { ms, table } from './stats.ts';

const say = (m: string): void => {
  process.stderr.write(`[trials ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      count: { type: 'string', default: '20' },
      grants: { type: 'string', default: '3' },
      entry: { type: 'string', default: 'bundle' },
      pods: { type: 'string', default: '0,10000' },
      runs: { type: 'string', default: '3' },
      entries: { type: 'string', default: 'bundle,sources' },
    },
  });
  process.once('SIGINT', () => {
    process.exit(130);
  });
  if (positionals[0] === 'restart') {
    await benchRestart({ podSteps: values.pods.split(',').map(Number), runs: Number(values.runs), entries: values.entries.split(',') });
    return;
  }
  const count = Number(values.count);
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-trials-'));
  const state = await startControlPlane({ dir, binDir: ensureBinaries(), progress: say });
  // After the control plane, which starts from an empty directory.
  const entry = values.entry === 'sources' ? join(REPO_ROOT, 'src/main.ts') : buildOperatorBundle(dir);
  say(`operator from ${entry}`);
  let operator: OperatorProcess | undefined;
  try {
    installCrds(state);
    const api = adminApi(state);
    const namespace = 'trials';
    await api.core.createNamespace({ body: { metadata: { name: namespace } } });
    await api.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
    await api.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'api-1', labels: { app: 'checkout' } },
        spec: { containers: [{ name: 'app', image: `${APPROVED_REGISTRY}app@sha256:${'a'.repeat(64)}` }] },
      },
    });
    let restarts = 0;
    /** When the latest operator process was spawned: its start-up (Node and the bundle loading) is part of every restart's lateness. */
    let spawnedAt = 0;
    const setup: TrialSetup = {
      api,
      creator: api,
      namespace,
      pod: 'api-1',
      grants: Number(values.grants),
      spawn: () => {
        spawnedAt = Date.now();
        return spawnOperator({
          kubeconfig: state.kubeconfig,
          dir,
          name: `operator-${String(restarts++)}`,
          entry,
          config: { approvedRegistries: [APPROVED_REGISTRY], namespaces: [namespace], revocationSettle: '2s' },
          env: { LOG_LEVEL: 'info' },
        });
      },
    };
    operator = await setup.spawn();
    await operator.waitUntilReady();
    const results: TrialResult[] = [];
    for (let i = 0; i < count; i++) {
      const r = await crashTrial(setup, operator);
      operator = r.operator;
      results.push(r);
      say(
        `trial ${String(i + 1)}/${String(count)}: killed after ${String(r.killAfterMs)} ms, restarted after ${String(r.restartDelayMs)} ms, its first log line ${String(firstLogLineAt(r.operator.logFile) - spawnedAt)} ms after the spawn (${loadAverage()}); lateness ${r.grants.map((g) => ms(g.latenessMs ?? 0)).join(', ')}${r.failures.length > 0 ? `; FAILED: ${r.failures.join('; ')}` : ''}`,
      );
    }
    const s = summarizeTrials(results);
    process.stdout.write(
      `\n${table(['trials', 'grants', 'lateness p50', 'p99', 'max', 'failures'], [[String(s.trials), String(s.lateness.n), ms(s.lateness.p50), ms(s.lateness.p99), ms(s.lateness.max), String(s.failures)]])}\n`,
    );
    for (const r of results) for (const f of r.failures) process.stdout.write(`  failure: ${f}\n`);
    process.stdout.write(`${loadAverage()} at the end (1, 5, 15 min)\n`);
    process.exitCode = s.failures > 0 ? 1 : 0;
  } finally {
    await operator?.stop();
    await stopControlPlane(state);
    say(`logs in ${dir}`);
  }
}

/** The time of the operator's first JSON log line ('starting', once its code has loaded), or NaN. */
function firstLogLineAt(logFile: string): number {
  const first = readFileSync(logFile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('{'));
  if (!first) return NaN;
  const time: unknown = (JSON.parse(first) as { time?: unknown }).time;
  return typeof time === 'string' ? Date.parse(time) : NaN;
}

const loadAverage = (): string =>
  `load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;

main().catch((err: unknown) => {
  say(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
