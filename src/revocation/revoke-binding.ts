// The revocation itself: deleting the grant's RoleBinding (the only object that grants
// access), with the retries a deadline deserves. Each attempt has the short revocation
// timeout; one that times out or loses its connection is retried at once, on a fresh
// connection (the failed one is retired), so a stalled connection costs one revocation
// timeout, not a request timeout and a backoff. An answer from the API server (a status
// code) is not the connection's fault: it goes to the caller's retry policy.
import type { KubeApi } from '../kube/client.ts';
import { deleteRoleBinding } from '../kube/rbac.ts';
import { httpStatus } from '../runtime/errors.ts';

/** Immediate attempts of a RoleBinding delete before its error goes to the caller's backoff. */
export const REVOCATION_ATTEMPTS = 3;

/** True when a RoleBinding was deleted, false when it was already gone. */
export async function revokeRoleBinding(api: KubeApi, namespace: string, name: string): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deleteRoleBinding(api, namespace, name, api.connection.within(api.connection.timeouts.revocationMs));
    } catch (err) {
      if (attempt >= REVOCATION_ATTEMPTS || httpStatus(err) !== undefined) throw err;
    }
  }
}
