// prune's questions to the cluster: each grant's phase by name (404: not there). Loaded only
// by `prune` without --offline, so the other commands never load the Kubernetes client for it.
import { getGrant } from '../kube/queries.ts';
import { PLURAL } from '../api/schema.ts';
import { isNotFoundStatus } from '../runtime/errors.ts';
import type { FlagValues } from './args.ts';
import { against, openCluster } from './connection.ts';
import type { GrantInFile } from './grant-files.ts';
import { grantKey, type Observed } from './prune.ts';

export async function observeGrants(flags: FlagValues, grants: readonly GrantInFile[]): Promise<Map<string, Observed>> {
  const { api, target } = openCluster(flags);
  const keys = [...new Set(grants.filter((g) => g.namespace && g.name).map(grantKey))];
  return against(
    target,
    async () =>
      new Map(
        await Promise.all(
          keys.map(async (key): Promise<[string, Observed]> => {
            const [namespace = '', name = ''] = key.split('/');
            try {
              const g = await getGrant(api, namespace, name);
              return [key, { phase: g.status?.phase, endedAt: g.status?.endedAt, expiresAt: g.status?.expiresAt }];
            } catch (err) {
              if (isNotFoundStatus(err, PLURAL)) return [key, 'absent'];
              throw err;
            }
          }),
        ),
      ),
  );
}
