// stop() always finishes. A reconcile that never settles (a request hanging past every timeout:
// a bug, not the network, which the request timeout bounds) is abandoned after the grace period
// with a log line naming it; before, stop() waited for it forever (a test operator's stop() hung
// in a CI run, after a grant was never reconciled).
import { createGrant, grantSpec } from '../support/grants.ts';
import { withFaults } from '../support/api-faults.ts';
import { freshNamespace } from '../support/cluster.ts';
import { startTestOperator } from '../support/operator.ts';

describe('stop', () => {
  test('a reconcile that never settles is abandoned at stop, and the log names its grant', async () => {
    const ns = await freshNamespace('stop');
    let reached = (): void => undefined;
    const hanging = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const op = await startTestOperator(
      [ns],
      {},
      {
        stopGraceMs: 1000,
        // The grant's first write (its finalizer) never returns.
        wrapApi: (api) =>
          withFaults(api, [
            {
              operation: 'patchNamespacedCustomObject',
              when: (p) => p.name === 'stuck',
              before: () => {
                reached();
                return new Promise<void>(() => undefined);
              },
            },
          ]),
      },
    );
    await createGrant(ns, 'stuck', grantSpec({ ttl: '10m' }));
    await hanging;
    await op.stop();
    expect(op.lines).toContainEqual(
      expect.objectContaining({ level: 50, graceMs: 1000, grants: [`${ns}/stuck`], msg: expect.stringContaining('abandoned') as unknown }),
    );
  });
});
