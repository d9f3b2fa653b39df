// npm run bench -- cli: how long `kubectl debuggrant` takes to start, from the bundle
// (what users install) and from the TypeScript sources (a checkout). The target is --help
// under 300 ms. No cluster needed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../hack/controlplane/install.ts';
import { ms, summarize, table } from './stats.ts';

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 20);
const BUNDLE = join(REPO_ROOT, 'dist', 'kubectl-debuggrant.mjs');
const SOURCES = join(REPO_ROOT, 'src', 'cli', 'main.ts');

/** CPU time (ms) of this process's waited-for children (Linux: /proc/self/stat cutime + cstime, 10 ms ticks). */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** Wall clock and CPU time of each run: on a shared, loaded machine the CPU time is the steadier number. */
function timeRuns(args: string[]): { wall: number[]; cpu: number[] } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cpuBefore = childrenCpuMs();
    const started = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    wall.push(Number(process.hrtime.bigint() - started) / 1e6);
    cpu.push(childrenCpuMs() - cpuBefore);
    if (r.status !== 0 && !args.includes('lst')) throw new Error(`${args.join(' ')} exited ${String(r.status)}: ${r.stderr}`);
  }
  return { wall, cpu };
}

export async function benchCli(): Promise<void> {
  if (!existsSync(BUNDLE) || process.env.BENCH_CLI_REBUILD !== '0') {
    process.stderr.write('[bench cli] npm run bundle\n');
    execFileSync('npm', ['run', '--silent', 'bundle'], { cwd: REPO_ROOT, stdio: 'inherit' });
  }
  const scenarios: [string, string[]][] = [
    ['node -e 0 (floor)', ['-e', '0']],
    ['bundle --help', [BUNDLE, '--help']],
    ['bundle new --help', [BUNDLE, 'new', '--help']],
    ['bundle version --client', [BUNDLE, 'version', '--client']],
    ['bundle usage error (did-you-mean)', [BUNDLE, 'lst']],
    ['sources --help', [SOURCES, '--help']],
  ];
  const rows = scenarios.map(([name, args]) => {
    const t = timeRuns(args);
    const wall = summarize(t.wall);
    const cpu = summarize(t.cpu);
    return [name, String(wall.n), ms(wall.p50), ms(wall.max), ms(cpu.p50), ms(cpu.max)];
  });
  process.stdout.write(`${table(['CLI start', 'runs', 'wall p50', 'wall max', 'CPU p50', 'CPU max'], rows)}\n`);
  await Promise.resolve();
}
