// kill -9 of the operator process at random moments of grant lifecycles, restarted after a
// random delay: no access outlives its deadline + restart delay + 5 s, no grant comes back,
// no RBAC is left behind, and the record tells what access existed. `npm run trials` runs
// many more of these and prints the lateness table.
import type { OperatorProcess } from '../../hack/operator-process.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { createPod, freshNamespace, kubeConfigFor } from '../support/cluster.ts';
import { crashTrial, summarizeTrials, type TrialResult, type TrialSetup } from '../support/crash-trial.ts';
import { spawnTestOperator } from '../support/operator.ts';

describe('crash trials', () => {
  let operator: OperatorProcess | undefined;
  afterAll(async () => {
    await operator?.stop();
  });

  test('three kill -9 trials with three grants each', async () => {
    const namespace = await freshNamespace('crash');
    await createPod(namespace, 'api-1', { app: 'checkout' });
    let restarts = 0;
    const setup: TrialSetup = {
      api: fromKubeConfig(kubeConfigFor('admin')),
      creator: fromKubeConfig(kubeConfigFor('gitops')),
      namespace,
      pod: 'api-1',
      spawn: () => spawnTestOperator(`crash-${String(restarts++)}`, [namespace]),
    };
    operator = await setup.spawn();
    await operator.waitUntilReady();
    const results: TrialResult[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await crashTrial(setup, operator);
      operator = r.operator;
      results.push(r);
    }
    const s = summarizeTrials(results);
    process.stderr.write(
      `[crash] ${JSON.stringify(s)}; kills at ${results.map((r) => `${String(r.killAfterMs)} ms (restart after ${String(r.restartDelayMs)} ms)`).join(', ')}\n`,
    );
    expect(results.flatMap((r) => r.failures)).toEqual([]);
    // The trials did exercise access: every grant ended, and most were active at some point.
    expect(results.flatMap((r) => r.grants).every((g) => g.finalPhase === 'Expired')).toBe(true);
  }, 180_000);
});
