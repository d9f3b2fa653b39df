// Deletes first. Every API request the operator makes goes through one of two lanes
// (kube/request-lanes.ts is the mechanism): the RoleBinding deletes that end access take the
// urgent lane, up to URGENT_REQUESTS at once; everything else (applies, status, index,
// reviews, Events) waits while any of them is queued or in flight. A burst of deadlines so has
// the API server to itself for the deletes; the rest of each expiry follows them.
import type { KubeApi } from '../kube/client.ts';
import { RequestLanes } from '../kube/request-lanes.ts';
import type { Clock } from '../runtime/clock.ts';

/** RoleBinding deletes of due deadlines in flight at once. */
export const URGENT_REQUESTS = 32;

export interface LanedApi {
  /** Everything but revocation: waits while any revocation is pending, at most its request timeout (then NotSentError). */
  api: KubeApi;
  /** Deleting a RoleBinding whose grant must end. */
  urgentApi: KubeApi;
  /** The normal lane, refusing to start any request at or after `deadline` (DeadlinePassedError). */
  apiUntil: (deadline: number) => KubeApi;
}

export function deletesFirst(api: KubeApi, clock: Clock): LanedApi {
  const lanes = new RequestLanes(URGENT_REQUESTS);
  return {
    api: lanes.view(api, 'normal', clock),
    urgentApi: lanes.view(api, 'urgent', clock),
    apiUntil: (deadline) => lanes.until(api, deadline, clock),
  };
}
