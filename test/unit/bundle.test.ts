// npm run bundle and npm run krew: the CLI is one executable file that runs without node_modules, says which
// Node.js it needs on an older one, and ships as a krew plugin whose manifest names the
// archive's digest; the operator bundle starts.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'dg-bundle-'));
const cliFile = join(out, 'kubectl-debuggrant.mjs');
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

async function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, { encoding: 'utf8', cwd: opts.cwd ?? out, env: opts.env ?? process.env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, 'hack/bundle.ts'), out], { stdio: 'pipe' });
  execFileSync(process.execPath, [join(ROOT, 'hack/krew.ts'), out], { stdio: 'pipe' });
}, 180_000);

describe('the bundles', () => {
  test('the CLI: a shebang, the exec bit, and it runs from anywhere as itself', async () => {
    expect(readFileSync(cliFile, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(statSync(cliFile).mode & 0o111).toBe(0o111);
    const help = await run(cliFile, ['--help'], { cwd: tmpdir() });
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('Commands:');
    expect((await run(cliFile, ['version', '--client'])).stdout).toBe(`Client Version: ${version}\n`);
    const typo = await run(cliFile, ['lst']);
    expect(typo).toMatchObject({ code: 2, stderr: expect.stringContaining('did you mean list?') as unknown });
  });

  test('on an older Node.js the CLI says what it needs, before anything else runs', async () => {
    const olderNode = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.11.1"})';
    const r = await run(process.execPath, ['--import', olderNode, cliFile, 'list']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`debuggrant needs Node.js 24 or newer; this is Node.js 20.11.1 (${process.execPath}).\n` +
      'Install Node.js 24 LTS (https://nodejs.org, or your package manager) and run it again.\n');
  });

  test('the operator bundle starts and checks its configuration', async () => {
    const env = { PATH: process.env.PATH ?? '' };
    const r = await run(process.execPath, [join(out, 'operator.mjs')], { env });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('DEBUGGRANT_CONFIG is not set');
  });

  test('the krew manifest names the archive by digest, and the archive holds the plugin and its notices', () => {
    const archive = join(out, 'kubectl-debuggrant.tar.gz');
    const manifest = parse(readFileSync(join(out, 'krew', 'debuggrant.yaml'), 'utf8')) as {
      kind: string; metadata: { name: string }; spec: { version: string; platforms: { sha256: string; bin: string; uri: string }[] };
    };
    expect(manifest).toMatchObject({ kind: 'Plugin', metadata: { name: 'debuggrant' }, spec: { version: `v${version}` } });
    const [platform] = manifest.spec.platforms;
    expect(platform?.sha256).toBe(createHash('sha256').update(readFileSync(archive)).digest('hex'));
    expect(platform?.uri).toMatch(new RegExp(`/v${version}/kubectl-debuggrant\\.tar\\.gz$`));
    const files = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    expect(files).toEqual(['./', './LICENSE', './THIRD-PARTY-NOTICES.txt', `./${platform?.bin ?? ''}`]);
  });
});
