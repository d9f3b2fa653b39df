// npm run bundle [-- OUTDIR]: one self-contained ESM file each for the CLI
// (dist/kubectl-debuggrant.mjs, the krew/npm `bin`) and the operator (dist/operator.mjs, the
// container image's entry). No node_modules are needed next to them. `npm run krew` packs
// the CLI for krew (hack/krew.ts).
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { VERSION } from '../src/version.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MIN_NODE = 24;

// Runs before any bundled module: on an older Node the file must say what it needs instead
// of failing deep inside undici. Syntax is lowered to Node 20 so such a Node can parse the
// file far enough to run this; the static imports are node: builtins only.
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

const OUT = resolve(process.argv[2] ?? join(ROOT, 'dist'));
const targets = [
  { entry: 'src/cli/main.ts', out: 'kubectl-debuggrant.mjs', shebang: true },
  { entry: 'src/main.ts', out: 'operator.mjs', shebang: false },
];

for (const t of targets) {
  const outfile = join(OUT, t.out);
  mkdirSync(dirname(outfile), { recursive: true });
  const started = Date.now();
  await build({
    entryPoints: [join(ROOT, t.entry)],
    outfile,
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
  });
  // src/cli/main.ts starts with its own shebang, which esbuild keeps on the first line.
  if (t.shebang) chmodSync(outfile, 0o755);
  process.stderr.write(`[bundle] ${relative(ROOT, outfile)}: ${(statSync(outfile).size / 1024).toFixed(0)} KiB in ${String(Date.now() - started)} ms\n`);
}
