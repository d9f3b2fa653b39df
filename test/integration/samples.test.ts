// The samples a newcomer applies, applied the same way (kubectl, as the gitops identity),
// then used the way a requester would: `kubectl debug` as alice works, as bob it does not.
import { REPO_ROOT } from '../../hack/controlplane/install.ts';
import { eventually, kubectl } from '../support/cluster.ts';
import { getGrant, isReady } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const IMAGE = 'registry.example.com/debug/netshoot@sha256:0f8e0ff5dd4a1d2c0a2d3b0d7c9c4a1e2f3b4c5d6e7f8091a2b3c4d5e6f70819';

describe('config/samples', () => {
  let op: TestOperator;
  beforeAll(async () => {
    expect((await kubectl('admin', ['apply', '-f', `${REPO_ROOT}config/samples/workload.yaml`])).code).toBe(0);
    op = await startTestOperator(['shop']);
  });
  afterAll(async () => {
    await op.stop();
  });

  test('the sample grant applies as gitops, activates, and kubectl debug works for alice only', async () => {
    const applied = await kubectl('gitops', ['apply', '-f', `${REPO_ROOT}config/samples/debuggrant.yaml`]);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toContain('debuggrant.debuggrant.dev/inc-4211-checkout created');
    await eventually(() => getGrant('shop', 'inc-4211-checkout'), isReady);

    const listed = await kubectl('alice', ['get', 'dg', '-n', 'shop']);
    expect(listed.stdout).toMatch(/inc-4211-checkout\s+alice\s+Active\s+checkout-1\s+20\d\d-/);
    // Every name kubectl knows the kind by, the singular too (a CRD category of the same name
    // would take precedence over it and fail with "you must specify only one resource").
    for (const kind of ['debuggrant', 'debuggrants', 'dg', 'debuggrants.debuggrant.dev']) {
      const one = await kubectl('admin', ['get', kind, 'inc-4211-checkout', '-n', 'shop', '-o', 'name']);
      expect({ kind, stderr: one.stderr, stdout: one.stdout.trim() }).toEqual({ kind, stderr: '', stdout: 'debuggrant.debuggrant.dev/inc-4211-checkout' });
    }
    const category = await kubectl('admin', ['get', 'debugaccess', '-n', 'shop', '-o', 'name']);
    expect(category.stdout).toContain('debuggrant.debuggrant.dev/inc-4211-checkout');

    const debug = await kubectl('alice', ['-n', 'shop', 'debug', 'checkout-1', `--image=${IMAGE}`, '--profile=restricted', '--container=dbg']);
    expect(debug.code).toBe(0);
    const refused = await kubectl('bob', ['-n', 'shop', 'debug', 'checkout-1', `--image=${IMAGE}`, '--container=dbg2']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('forbidden');
    const pod = await kubectl('admin', ['-n', 'shop', 'get', 'pod', 'checkout-1', '-o', 'jsonpath={.spec.ephemeralContainers[*].name}']);
    expect(pod.stdout).toBe('dbg');
  });
});
