// npm run bundle and npm run krew: the CLI is an executable entry (plus the chunks it loads per
// command) that runs without node_modules, says which Node.js it needs on an older one, loads
// the Kubernetes client only for commands that talk to a cluster, and ships as a krew plugin
// whose manifest names the archive's digest; the operator bundle starts, and holds nothing of
// @kubernetes/client-node.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'dg-bundle-'));
const cliFile = join(out, 'kubectl-debuggrant.mjs');
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

async function run(
  file: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
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
    // yaml, a CommonJS package, reached through a chunk loaded on demand (src/cli/yaml-text.ts).
    expect(await run(cliFile, ['version', '--client', '-o', 'yaml'])).toMatchObject({ code: 0, stdout: `client: ${version}\n` });
    const typo = await run(cliFile, ['lst']);
    expect(typo).toMatchObject({ code: 2, stderr: expect.stringContaining('did you mean list?') as unknown });
  });

  test('--help, version --client, validate and prune --offline load a few hundred KiB at most, never the Kubernetes client', async () => {
    // A module hook (node:module registerHooks) records every file the CLI loads.
    const hook = join(out, 'record-loads.mjs');
    writeFileSync(
      hook,
      "import { registerHooks } from 'node:module'; import { appendFileSync } from 'node:fs';\n" +
        'registerHooks({ load(url, context, next) { appendFileSync(process.env.LOADED_LOG, url + "\\n"); return next(url, context); } });\n',
    );
    const grant = join(out, 'grant.yaml');
    writeFileSync(
      grant,
      [
        'apiVersion: debuggrant.dev/v1alpha1',
        'kind: DebugGrant',
        'metadata: {name: inc-1, namespace: shop}',
        'spec:',
        '  subject: {kind: User, name: alice@example.com}',
        '  podSelector: {matchLabels: {app: checkout}}',
        `  image: registry.example.com/debug/netshoot@sha256:${'0'.repeat(64)}`,
        '  ttl: 2h',
        '  reason: INC-4211 checkout latency, need tcpdump',
        '  access: [debug]',
        '  profile: restricted',
        '',
      ].join('\n'),
    );
    const loadedKiB = async (args: string[]): Promise<number> => {
      const log = join(out, 'loaded.log');
      rmSync(log, { force: true });
      const r = await run(process.execPath, ['--import', pathToFileURL(hook).href, cliFile, ...args], { env: { ...process.env, LOADED_LOG: log } });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      const files = readFileSync(log, 'utf8')
        .split('\n')
        .filter((u) => u.startsWith('file:') && !u.endsWith('record-loads.mjs'));
      expect(files.length).toBeGreaterThan(0);
      return files.reduce((sum, u) => sum + statSync(fileURLToPath(u)).size, 0) / 1024;
    };
    // The client's chunk alone is ~2,400 KiB; everything a command without a cluster needs, ~250.
    expect(await loadedKiB(['--help'])).toBeLessThan(64);
    expect(await loadedKiB(['version', '--client'])).toBeLessThan(64);
    expect(await loadedKiB(['validate', grant])).toBeLessThan(512);
    // prune decides offline from the files alone: no client either.
    expect(await loadedKiB(['prune', grant, '--offline'])).toBeLessThan(512);
  });

  test('on an older Node.js the CLI says what it needs, before anything else runs', async () => {
    const olderNode = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.11.1"})';
    const r = await run(process.execPath, ['--import', olderNode, cliFile, 'list']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `debuggrant needs Node.js 24 or newer; this is Node.js 20.11.1 (${process.execPath}).\n` +
        'Install Node.js 24 LTS (https://nodejs.org, or your package manager) and run it again.\n',
    );
  });

  test('the operator bundle starts and checks its configuration', async () => {
    const env = { PATH: process.env.PATH ?? '' };
    const r = await run(process.execPath, [join(out, 'operator.mjs')], { env });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('DEBUGGRANT_CONFIG is not set');
  });

  test('the operator bundle holds nothing of @kubernetes/client-node: its generated API and models cost ~40 MB of RSS at load', () => {
    // The source map names every file the bundle was built from (a package's files under its node_modules path).
    const { sources } = JSON.parse(readFileSync(join(out, 'operator.mjs.map'), 'utf8')) as { sources: string[] };
    expect(sources.filter((s) => s.includes('node_modules/zod/')).length).toBeGreaterThan(0);
    expect(sources.filter((s) => s.includes('node_modules/@kubernetes/client-node/'))).toEqual([]);
  });

  test("the operator bundle holds undici's pool and request() only: its entry point loads fetch, WebSocket, caches and mocks (~2.5 MB of RSS)", () => {
    const { sources } = JSON.parse(readFileSync(join(out, 'operator.mjs.map'), 'utf8')) as { sources: string[] };
    const undici = sources.filter((s) => s.includes('node_modules/undici/')).map((s) => s.replace(/^.*node_modules\/undici\//, ''));
    expect(undici).toContain('lib/dispatcher/agent.js');
    expect(
      undici.filter((f) => /^(index\.js|lib\/(mock|cache|interceptor|handler)\/|lib\/web\/(websocket|eventsource|cache|cookies|fetch\/index\.js))/.test(f)),
    ).toEqual([]);
  });

  test('the krew manifest names the archive by digest, and the archive holds the plugin, its chunks and its notices', () => {
    const archive = join(out, 'kubectl-debuggrant.tar.gz');
    const manifest = parse(readFileSync(join(out, 'krew', 'debuggrant.yaml'), 'utf8')) as {
      kind: string;
      metadata: { name: string };
      spec: { version: string; platforms: { sha256: string; bin: string; uri: string }[] };
    };
    expect(manifest).toMatchObject({ kind: 'Plugin', metadata: { name: 'debuggrant' }, spec: { version: `v${version}` } });
    const [platform] = manifest.spec.platforms;
    expect(platform?.sha256).toBe(createHash('sha256').update(readFileSync(archive)).digest('hex'));
    expect(platform?.uri).toMatch(new RegExp(`/v${version}/kubectl-debuggrant\\.tar\\.gz$`));
    const files = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    const chunks = files.filter((f) => f.startsWith('./kubectl-debuggrant-lib/') && f.endsWith('.mjs'));
    expect(files).toEqual(['./', './LICENSE', './THIRD-PARTY-NOTICES.txt', './kubectl-debuggrant-lib/', ...chunks, `./${platform?.bin ?? ''}`].sort());
    // Every chunk the entry imports is in the archive: unpacked alone, it runs.
    const unpacked = mkdtempSync(join(tmpdir(), 'dg-krew-'));
    execFileSync('tar', ['-xzf', archive, '-C', unpacked]);
    const help = execFileSync(process.execPath, [join(unpacked, platform?.bin ?? ''), 'validate', '--help'], { encoding: 'utf8' });
    expect(help).toContain('kubectl debuggrant validate');
    rmSync(unpacked, { recursive: true, force: true });
  });
});
