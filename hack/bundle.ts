// npm run bundle [-- OUTDIR]: the CLI and the operator as ESM files that need no node_modules.
// - The CLI: dist/kubectl-debuggrant.mjs (the krew/npm `bin`) plus the chunks it loads on
//   demand, dist/kubectl-debuggrant-lib/*.mjs. The entry holds only the command table, the
//   parser and the help; each command's module (and the Kubernetes client behind the commands
//   that talk to a cluster) is a chunk imported when that command runs, so `--help`,
//   `version --client` and `validate` never parse the client's 2.4 MB (src/cli/main.ts).
// - The operator: one self-contained dist/operator.mjs (the container image's entry).
// `npm run krew` packs the CLI and its chunks for krew (hack/krew.ts).
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { VERSION } from '../src/version.ts';
import { CLI_CHUNK_DIR, CLI_ENTRY } from './cli-layout.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MIN_NODE = 24;

// Runs before any bundled module: on an older Node the file must say what it needs instead
// of failing deep inside undici. Syntax is lowered to Node 20 so such a Node can parse the
// file far enough to run this; the static imports are node: builtins only. Every CLI chunk
// carries it too, as ESM evaluates the chunks an entry imports before the entry itself.
const guard = `{
  const major = Number(process.versions.node.split('.')[0]);
  if (major < ${String(MIN_NODE)}) {
    process.stderr.write('debuggrant needs Node.js ${String(MIN_NODE)} or newer; this is Node.js ' + process.versions.node + ' (' + process.execPath + ').\\n' +
      'Install Node.js ${String(MIN_NODE)} LTS (https://nodejs.org, or your package manager) and run it again.\\n');
    process.exit(1);
  }
}`;
// Bundled CommonJS dependencies call require() for Node builtins.
const requireShim = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'linked',
  sourcemap: 'linked',
  logLevel: 'warning',
  define: { DEBUGGRANT_VERSION: JSON.stringify(VERSION) },
  banner: { js: [guard, requireShim].join('\n') },
};

const OUT = resolve(process.argv[2] ?? join(ROOT, 'dist'));
mkdirSync(OUT, { recursive: true });

function report(file: string, started: number, note = ''): void {
  process.stderr.write(`[bundle] ${relative(ROOT, file)}: ${(statSync(file).size / 1024).toFixed(0)} KiB${note} in ${String(Date.now() - started)} ms\n`);
}

let started = Date.now();
// Chunk names carry a content hash: clear the last build's so none is left behind or packed.
rmSync(join(OUT, CLI_CHUNK_DIR), { recursive: true, force: true });
const cli = await build({
  ...common,
  entryPoints: { [CLI_ENTRY.replace(/\.mjs$/, '')]: join(ROOT, 'src/cli/main.ts') },
  outdir: OUT,
  splitting: true,
  chunkNames: `${CLI_CHUNK_DIR}/[name]-[hash]`,
  outExtension: { '.js': '.mjs' },
  metafile: true,
});
const cliFile = join(OUT, CLI_ENTRY);
// src/cli/main.ts starts with its own shebang, which esbuild keeps on the first line.
chmodSync(cliFile, 0o755);
const cliOutputs = Object.keys(cli.metafile.outputs)
  .filter((f) => f.endsWith('.mjs'))
  .map((f) => resolve(ROOT, f));
// With splitting the notices sit beside whichever chunk holds the code; the entry's own
// LEGAL.txt (what krew ships as THIRD-PARTY-NOTICES.txt) gathers them all, each once.
const notices = new Set(
  cliOutputs
    .map((f) => `${f}.LEGAL.txt`)
    .filter((f) => existsSync(f))
    .flatMap((f) =>
      readFileSync(f, 'utf8')
        .replace(/^Bundled license information:\n\n/, '')
        .trim()
        .split(/\n\n(?=\S)/),
    ),
);
writeFileSync(`${cliFile}.LEGAL.txt`, `Bundled license information:\n\n${[...notices].sort().join('\n\n')}\n`);
report(cliFile, started, ` (+ ${String(cliOutputs.length - 1)} chunks in ${CLI_CHUNK_DIR}/)`);

started = Date.now();
const operatorFile = join(OUT, 'operator.mjs');
await build({ ...common, entryPoints: [join(ROOT, 'src/main.ts')], outfile: operatorFile });
report(operatorFile, started);
