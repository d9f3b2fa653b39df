// npm run krew [-- OUTDIR]: the krew plugin release of the bundled CLI (run after npm run
// bundle, with each release): OUTDIR/kubectl-debuggrant.tar.gz (the CLI, its third-party
// notices and the licence) and OUTDIR/krew/debuggrant.yaml, the manifest for a krew index,
// naming that archive's sha256. The CLI is JavaScript (its entry and the chunks it loads per
// command, hack/bundle.ts), so one archive serves every OS and architecture that runs Node.js 24.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { VERSION } from '../src/version.ts';
import { CLI_CHUNK_DIR, CLI_ENTRY } from './cli-layout.ts';

/** Where releases are published; the manifest's download URL is built from it. */
export const RELEASES_URL = process.env.DEBUGGRANT_RELEASES_URL ?? 'https://github.com/debuggrant/debuggrant/releases/download';

function writeKrewRelease(root: string, outDir: string, version: string): { archive: string; manifest: string; sha256: string } {
  const staging = mkdtempSync(join(tmpdir(), 'debuggrant-krew-'));
  try {
    // The entry's LEGAL.txt lists the notices of every chunk it can load.
    mkdirSync(join(staging, CLI_CHUNK_DIR));
    const chunks = readdirSync(join(outDir, CLI_CHUNK_DIR))
      .filter((f) => f.endsWith('.mjs'))
      .map((f) => join(CLI_CHUNK_DIR, f));
    const files: [string, string][] = [
      [join(outDir, CLI_ENTRY), CLI_ENTRY],
      [join(outDir, `${CLI_ENTRY}.LEGAL.txt`), 'THIRD-PARTY-NOTICES.txt'],
      [join(root, 'LICENSE'), 'LICENSE'],
      ...chunks.map((c): [string, string] => [join(outDir, c), c]),
    ];
    for (const [from, to] of files) copyFileSync(from, join(staging, to));
    const tarFile = join(outDir, 'kubectl-debuggrant.tar');
    // Reproducible: fixed order, times and owners, and gzip without a timestamp.
    execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', tarFile, '-C', staging, '.']);
    execFileSync('gzip', ['-n', '-9', '-f', tarFile]);
    const archive = `${tarFile}.gz`;
    const sha256 = createHash('sha256').update(readFileSync(archive)).digest('hex');
    const manifest = join(outDir, 'krew', 'debuggrant.yaml');
    mkdirSync(join(outDir, 'krew'), { recursive: true });
    writeFileSync(
      manifest,
      stringify({
        apiVersion: 'krew.googlecontainertools.github.com/v1alpha2',
        kind: 'Plugin',
        metadata: { name: 'debuggrant' },
        spec: {
          version: `v${version}`,
          homepage: 'https://github.com/debuggrant/debuggrant',
          shortDescription: 'Time-bounded, approved debug access to pods (DebugGrant)',
          description:
            'Writes and validates DebugGrants offline, lists and revokes them, runs kubectl debug with ' +
            "your grant's image and profile, and audits standing debug privileges that bypass grants.",
          caveats: 'Needs Node.js 24 or newer on PATH (the plugin is JavaScript).\n' + 'The cluster needs the debuggrant operator and its CRDs.\n',
          platforms: [
            {
              selector: { matchExpressions: [{ key: 'os', operator: 'In', values: ['linux', 'darwin'] }] },
              uri: `${RELEASES_URL}/v${version}/kubectl-debuggrant.tar.gz`,
              sha256,
              bin: CLI_ENTRY,
              files: [{ from: '*', to: '.' }],
            },
          ],
        },
      }),
    );
    return { archive, manifest, sha256 };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const release = writeKrewRelease(ROOT, resolve(process.argv[2] ?? join(ROOT, 'dist')), VERSION);
process.stderr.write(`[krew] ${relative(ROOT, release.archive)} (sha256 ${release.sha256}) and ${relative(ROOT, release.manifest)}\n`);
