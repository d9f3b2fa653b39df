// prune's decisions (pure, fixed clock) and the offline command on a real checkout directory.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInvocation } from '../../src/cli/args.ts';
import { grantsInFiles, type GrantInFile } from '../../src/cli/grant-files.ts';
import { clusterLiveness, offlineLiveness, planPrune, runPrune } from '../../src/cli/prune.ts';

const now = Date.parse('2026-11-23T10:00:00Z');
const g = (notAfter?: string): GrantInFile => ({ namespace: 'shop', name: 'inc-1', line: 1, notAfter });
const grantYaml = (name: string, notAfter?: string): string =>
  [
    'apiVersion: debuggrant.dev/v1alpha1',
    'kind: DebugGrant',
    `metadata: {name: ${name}, namespace: shop}`,
    'spec:',
    '  subject: {kind: User, name: alice}',
    '  ttl: 1h',
    ...(notAfter ? [`  notAfter: "${notAfter}"`] : []),
  ].join('\n');

describe('which grants have ended', () => {
  test.each([
    [undefined, 'unknown', 'no spec.notAfter'],
    ['2026-11-23T09:59:59Z', 'ended', 'has passed'],
    ['2026-11-23T10:00:00Z', 'ended', 'has passed'],
    ['2026-11-23T10:00:01Z', 'unknown', 'is ahead'],
    ['tomorrow', 'unknown', 'is not a time'],
  ])('offline, notAfter %s: %s', (notAfter, state, why) => {
    const l = offlineLiveness(g(notAfter), now);
    expect(l.state).toBe(state);
    expect(l.why).toContain(why);
  });

  test.each([
    [{ phase: 'Expired', endedAt: '2026-11-23T09:00:00Z', expiresAt: undefined }, undefined, 'ended', 'Expired at 2026-11-23T09:00:00Z'],
    [{ phase: 'Revoked', endedAt: undefined, expiresAt: undefined }, undefined, 'ended', 'Revoked'],
    [{ phase: 'Denied', endedAt: undefined, expiresAt: undefined }, undefined, 'ended', 'Denied'],
    [{ phase: 'Active', endedAt: undefined, expiresAt: '2026-11-23T11:00:00Z' }, '2026-11-23T09:00:00Z', 'live', 'Active until 2026-11-23T11:00:00Z'],
    [{ phase: undefined, endedAt: undefined, expiresAt: undefined }, undefined, 'live', 'Pending'],
    ['absent', undefined, 'unknown', 'not synced yet'],
    ['absent', '2026-11-23T09:00:00Z', 'ended', 'not in the cluster, and spec.notAfter'],
  ] as const)('from the cluster %j (notAfter %s): %s', (observed, notAfter, state, why) => {
    const l = clusterLiveness(g(notAfter), observed, now);
    expect(l.state).toBe(state);
    expect(l.why).toContain(why);
  });
});

describe('which files go', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-prune-'));
  mkdirSync(join(dir, 'shop'));
  const files = {
    ended: join(dir, 'shop/ended.yaml'),
    live: join(dir, 'shop/live.yaml'),
    noNotAfter: join(dir, 'shop/no-not-after.yaml'),
    twoEnded: join(dir, 'shop/two-ended.yaml'),
    mixed: join(dir, 'shop/mixed.yaml'),
    broken: join(dir, 'shop/broken.yaml'),
    config: join(dir, 'operator-config.yaml'),
  };
  writeFileSync(files.ended, grantYaml('ended', '2020-01-01T00:00:00Z'));
  writeFileSync(files.live, grantYaml('live', '2999-01-01T00:00:00Z'));
  writeFileSync(files.noNotAfter, grantYaml('no-not-after'));
  writeFileSync(files.twoEnded, `${grantYaml('a', '2020-01-01T00:00:00Z')}\n---\n${grantYaml('b', '2020-01-02T00:00:00Z')}`);
  writeFileSync(files.mixed, `${grantYaml('m', '2020-01-01T00:00:00Z')}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}`);
  writeFileSync(files.broken, 'kind: [unclosed');
  writeFileSync(files.config, 'approvedRegistries: ["registry.example.com/debug/"]');

  test('a file goes only when every document in it is a grant that ended', () => {
    const verdicts = planPrune(grantsInFiles([dir]), (x) => offlineLiveness(x, now));
    const byFile = Object.fromEntries(verdicts.map((v) => [v.file, v]));
    expect(
      verdicts
        .filter((v) => v.removable)
        .map((v) => v.file)
        .sort(),
    ).toEqual([files.ended, files.twoEnded].sort());
    expect(byFile[files.mixed]?.note).toBe('holds 1 other object(s): edit it by hand');
    expect(byFile[files.broken]?.note).toContain('not valid YAML');
    expect(byFile[files.config]?.note).toBe('no DebugGrant');
    expect(byFile[files.twoEnded]?.grants.map((x) => [x.grant, x.line])).toEqual([
      ['shop/a', 1],
      ['shop/b', 9],
    ]);
  });

  test('--offline --delete removes exactly those files, and needs no cluster', async () => {
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = join(dir, 'no-such-kubeconfig');
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk: string | Uint8Array): boolean => {
      out.push(String(chunk));
      return true;
    };
    try {
      expect(await runPrune(parseInvocation(['prune', dir, '--offline', '--delete']))).toBe(0);
    } finally {
      process.stdout.write = write;
      process.env.KUBECONFIG = saved;
    }
    expect(
      Object.entries(files)
        .filter(([, f]) => !existsSync(f))
        .map(([k]) => k)
        .sort(),
    ).toEqual(['ended', 'twoEnded']);
    expect(out.join('')).toContain('removed 2 of 7 file(s) holding only ended grants');
  });

  test('bad input: nothing to prune, or both modes, is a usage error and removes nothing', async () => {
    await expect(runPrune(parseInvocation(['prune', join(dir, 'operator-config.yaml')]))).rejects.toThrow('no DebugGrant in');
    await expect(runPrune(parseInvocation(['prune', dir, '--offline', '--from-cluster']))).rejects.toThrow('--offline and --from-cluster exclude each other');
    await expect(runPrune(parseInvocation(['prune']))).rejects.toThrow('prune needs at least one FILE or DIR');
    expect(existsSync(files.live) && existsSync(files.mixed)).toBe(true);
  });
});
