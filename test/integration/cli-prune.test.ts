// `kubectl debuggrant prune` against the real cluster: the checkout of a grants repository
// after some grants ended; only the files of grants the cluster says ended (or whose notAfter
// passed, when the cluster has none by that name) are listed and removed; live access stays.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { canI, createPod, eventually, freshNamespace, kubectl } from '../support/cluster.ts';
import { cli } from '../support/cli.ts';
import { getGrant, grantSpec, isReady } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

interface PruneJson {
  deleted: boolean;
  files: { file: string; removable: boolean; grants: { grant: string; state: string; why: string }[] }[];
}

describe('kubectl debuggrant prune', () => {
  let ns: string;
  let op: TestOperator;
  let repo: string;
  const file = (name: string): string => join(repo, ns, `${name}.yaml`);
  const write = (name: string, spec: Record<string, unknown>): void => {
    writeFileSync(file(name), stringify({ apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrant', metadata: { name, namespace: ns }, spec }));
  };
  beforeAll(async () => {
    ns = await freshNamespace('prune');
    await createPod(ns, 'checkout-1', { app: 'checkout' });
    op = await startTestOperator([ns], { maxTtl: '2h' });
    repo = mkdtempSync(join(tmpdir(), 'dg-grants-repo-'));
    mkdirSync(join(repo, ns));
  });
  afterAll(async () => {
    await op.stop();
  });

  test('lists and removes only the files of ended grants; live access and unsynced files stay', async () => {
    write('active', grantSpec());
    write('expired', grantSpec({ ttl: '3s' }));
    write('denied', grantSpec({ ttl: '3h' }));
    write('not-synced', grantSpec());
    write('long-gone', grantSpec({ notAfter: '2026-01-01T00:00:00Z' }));
    // The GitOps sync of the first three (the last two never reached the cluster).
    for (const name of ['active', 'expired', 'denied']) {
      expect((await kubectl('gitops', ['apply', '--server-side', '--field-manager=argocd-controller', '-f', file(name)])).stderr).toBe('');
    }
    await eventually(() => getGrant(ns, 'active'), isReady);
    await eventually(
      () => getGrant(ns, 'expired'),
      (g) => g?.status?.phase === 'Expired',
      20_000,
    );
    await eventually(
      () => getGrant(ns, 'denied'),
      (g) => g?.status?.phase === 'Denied',
    );

    const listed = await cli('admin', ['prune', repo]);
    expect(listed.code).toBe(0);
    const text = listed.stdout;
    expect(text).toMatch(new RegExp(`${ns}/active +live +Active until `));
    expect(text).toMatch(new RegExp(`${ns}/expired +ended +Expired at `));
    expect(text).toMatch(new RegExp(`${ns}/denied +ended +Denied at `));
    expect(text).toMatch(new RegExp(`${ns}/not-synced +unknown +not in the cluster: not synced yet, or deleted there`));
    expect(text).toMatch(new RegExp(`${ns}/long-gone +ended +not in the cluster, and spec.notAfter 2026-01-01T00:00:00Z has passed`));
    expect(text).toContain('3 of 5 file(s) hold only ended grants: --delete removes them');
    expect(['active', 'expired', 'denied', 'not-synced', 'long-gone'].every((n) => existsSync(file(n)))).toBe(true);

    const removed = await cli('admin', ['prune', repo, '--delete', '-o', 'json']);
    expect(removed.code).toBe(0);
    const report = JSON.parse(removed.stdout) as PruneJson;
    expect(report.deleted).toBe(true);
    expect(
      report.files
        .filter((f) => f.removable)
        .map((f) => f.file)
        .sort(),
    ).toEqual([file('denied'), file('expired'), file('long-gone')].sort());
    expect(['expired', 'denied', 'long-gone'].map((n) => existsSync(file(n)))).toEqual([false, false, false]);
    expect(['active', 'not-synced'].map((n) => existsSync(file(n)))).toEqual([true, true]);

    // The sync that follows prunes the removed grants; the live one keeps its access.
    await kubectl('gitops', ['delete', 'debuggrants.debuggrant.dev', 'expired', 'denied', '-n', ns, '--wait=true']);
    expect(await canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'checkout-1' })).toBe(true);
    expect((await getGrant(ns, 'active'))?.status?.phase).toBe('Active');
  });

  test('a cluster it cannot ask removes nothing and says why', async () => {
    write('kept', grantSpec({ notAfter: '2026-01-01T00:00:00Z' }));
    const r = await cli('admin', ['prune', repo, '--delete', '--context', 'nowhere']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('context "nowhere" is not in kubeconfig');
    expect(existsSync(file('kept'))).toBe(true);
  });
});
