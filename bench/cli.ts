// npm run bench -- cli: how long `kubectl debuggrant` takes to start, from the bundle (what
// users install) and from the TypeScript sources (a checkout), beside `kubectl version
// --client` (the control-plane cache's kubectl, a Go binary) measured in the same run. The
// target: `--help`, `version --client` and `validate FILE` under 150 ms of wall time.
// BENCH_CLI_BEFORE=path/to/kubectl-debuggrant.mjs adds another bundle (e.g. an older
// commit's) to compare. No cluster needed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { REPO_ROOT } from '../hack/controlplane/install.ts';
import { ms, summarize, table } from './stats.ts';

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 20);
const BUNDLE = join(REPO_ROOT, 'dist', 'kubectl-debuggrant.mjs');
const SOURCES = join(REPO_ROOT, 'src', 'cli', 'main.ts');
const BEFORE = process.env.BENCH_CLI_BEFORE;
const SAMPLE = join(REPO_ROOT, 'config', 'samples', 'debuggrant.yaml');

/** CPU time (ms) of this process's waited-for children (Linux: /proc/self/stat cutime + cstime, 10 ms ticks). */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** Wall clock and CPU time of each run: on a shared, loaded machine the CPU time is the steadier number. */
function timeRuns(file: string, args: string[], expectedStatus: number): { wall: number[]; cpu: number[] } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cpuBefore = childrenCpuMs();
    const started = process.hrtime.bigint();
    const r = spawnSync(file, args, { encoding: 'utf8' });
    wall.push(Number(process.hrtime.bigint() - started) / 1e6);
    cpu.push(childrenCpuMs() - cpuBefore);
    if (r.status !== expectedStatus) throw new Error(`${file} ${args.join(' ')} exited ${String(r.status)}: ${r.stderr}`);
  }
  return { wall, cpu };
}

type Scenario = [name: string, file: string, args: string[], expectedStatus?: number];

/** The same commands for one build of the CLI. */
const cliScenarios = (label: string, entry: string): Scenario[] => [
  [`${label} --help`, process.execPath, [entry, '--help']],
  [`${label} version --client`, process.execPath, [entry, 'version', '--client']],
  [`${label} validate FILE`, process.execPath, [entry, 'validate', SAMPLE]],
  [`${label} usage error (did-you-mean)`, process.execPath, [entry, 'lst'], 2],
];

export function benchCli(): void {
  if (!existsSync(BUNDLE) || process.env.BENCH_CLI_REBUILD !== '0') {
    process.stderr.write('[bench cli] npm run bundle\n');
    execFileSync('npm', ['run', '--silent', 'bundle'], { cwd: REPO_ROOT, stdio: 'inherit' });
  }
  const kubectl = join(ensureBinaries(), 'kubectl');
  const scenarios: Scenario[] = [
    ['kubectl version --client', kubectl, ['version', '--client']],
    ['node -e 0 (floor)', process.execPath, ['-e', '0']],
    ...cliScenarios('bundle', BUNDLE),
    ...(BEFORE ? cliScenarios('before', BEFORE) : []),
    ['sources --help', process.execPath, [SOURCES, '--help']],
  ];
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  let kubectlP50 = NaN;
  const rows = scenarios.map(([name, file, args, expectedStatus]) => {
    const t = timeRuns(file, args, expectedStatus ?? 0);
    const wall = summarize(t.wall);
    const cpu = summarize(t.cpu);
    if (file === kubectl) kubectlP50 = wall.p50;
    return [name, String(wall.n), ms(wall.p50), ms(wall.max), `${(wall.p50 / kubectlP50).toFixed(2)}x`, ms(cpu.p50), ms(cpu.max)];
  });
  process.stdout.write(`${table(['CLI start', 'runs', 'wall p50', 'wall max', 'p50 / kubectl', 'CPU p50', 'CPU max'], rows)}\n`);
  process.stdout.write(
    `load average before: ${load}; after: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
}
