// The image's content is one bundled file (npm run bundle → dist/operator.mjs). Run alone in
// an empty directory, as the distroless image runs it, it must do the real work: activate a
// grant against the API server, revoke it on time, and serve its metrics under their
// conventional names with the release version.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../hack/controlplane/install.ts';
import { spawnOperator, type OperatorProcess } from '../../hack/operator-process.ts';
import { VERSION } from '../../src/version.ts';
import { createPod, eventually, freshNamespace, plane } from '../support/cluster.ts';
import { createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { APPROVED_REGISTRY } from '../support/policy.ts';

describe("the bundled operator (the image's content)", () => {
  let operator: OperatorProcess;
  let ns: string;

  beforeAll(async () => {
    execFileSync(process.execPath, [join(REPO_ROOT, 'hack/bundle.ts')], { stdio: ['ignore', 'ignore', 'inherit'] });
    const image = mkdtempSync(join(tmpdir(), 'dg-image-'));
    copyFileSync(join(REPO_ROOT, 'dist/operator.mjs'), join(image, 'operator.mjs'));
    ns = await freshNamespace('image');
    await createPod(ns, 'api-1', { app: 'checkout' });
    operator = await spawnOperator({
      kubeconfig: plane().kubeconfig,
      dir: image,
      name: 'bundled',
      entry: join(image, 'operator.mjs'),
      config: { approvedRegistries: [APPROVED_REGISTRY], namespaces: [ns], revocationSettle: '1s' },
      env: { NODE_ENV: 'production' },
    });
    await operator.waitUntilReady();
  }, 120_000);
  afterAll(async () => {
    await operator.stop();
  });

  test('activates and expires a grant, and reports itself in its metrics', async () => {
    await createGrant(ns, 'bundled', grantSpec({ ttl: '3s' }));
    await eventually(() => getGrant(ns, 'bundled'), isReady);
    await eventually(
      () => getGrant(ns, 'bundled'),
      (g) => g?.status?.phase === 'Expired',
      20_000,
    );
    const metrics = await (await fetch(operator.metricsUrl)).text();
    expect(metrics).toContain(`debuggrant_build_info{version="${VERSION}"} 1`);
    expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    expect(metrics).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(metrics).not.toContain('debuggrant_process_');
    expect(metrics).toMatch(/^debuggrant_revocation_lateness_seconds_count 1$/m);
  });
});
