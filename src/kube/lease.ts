// The coordination.k8s.io Lease the replicas compete for. Writes carry resourceVersion,
// so two candidates can never both believe they took it.
//
// Its requests take no request lane (request-lanes.ts): a renewal never waits behind the
// operator's own bulk. Their deadline is the leader's renew deadline: a renewal is not sent
// at or after it and is aborted there, since a Lease renewed after the leader has had to give
// it up proves nothing (the API server side: config/flowcontrol gives them a priority level
// of their own).
import type { V1Lease } from '@kubernetes/client-node';
import type { Clock } from '../runtime/clock.ts';
import { isNotFoundStatus } from '../runtime/errors.ts';
import type { CallOptions, KubeApi, LeaseBody } from './client.ts';

export interface LeaseRecord {
  holder: string;
  renewTime: number;
  acquireTime: number;
  leaseDurationSeconds: number;
  transitions: number;
  resourceVersion?: string;
}

/** Each call's `until` (epoch ms, optional): not sent at or after it, and aborted there. */
export interface LeaseStore {
  get(until?: number): Promise<LeaseRecord | undefined>;
  /** Creates (no resourceVersion) or replaces (with it); throws 409 when someone else moved first. */
  write(record: LeaseRecord, until?: number): Promise<LeaseRecord>;
}

export function leaseStore(api: KubeApi, namespace: string, name: string, clock: Clock): LeaseStore {
  const options = (until: number | undefined): CallOptions | undefined =>
    until === undefined ? undefined : { ...api.connection.until(until, () => clock.now()), wanted: () => clock.now() < until };
  const fromLease = (l: V1Lease): LeaseRecord => ({
    holder: l.spec?.holderIdentity ?? '',
    renewTime: l.spec?.renewTime ? new Date(l.spec.renewTime).getTime() : 0,
    acquireTime: l.spec?.acquireTime ? new Date(l.spec.acquireTime).getTime() : 0,
    leaseDurationSeconds: l.spec?.leaseDurationSeconds ?? 0,
    transitions: l.spec?.leaseTransitions ?? 0,
    resourceVersion: l.metadata?.resourceVersion,
  });
  return {
    async get(until) {
      try {
        return fromLease(await api.coordination.readNamespacedLease({ namespace, name }, options(until)));
      } catch (err) {
        if (isNotFoundStatus(err, 'leases')) return undefined;
        throw err;
      }
    },
    async write(r, until) {
      const body: LeaseBody = {
        metadata: { name, namespace, resourceVersion: r.resourceVersion },
        spec: {
          holderIdentity: r.holder,
          leaseDurationSeconds: r.leaseDurationSeconds,
          leaseTransitions: r.transitions,
          renewTime: microTime(r.renewTime),
          acquireTime: microTime(r.acquireTime),
        },
      };
      const written = r.resourceVersion
        ? await api.coordination.replaceNamespacedLease({ namespace, name, body }, options(until))
        : await api.coordination.createNamespacedLease({ namespace, body }, options(until));
      return fromLease(written);
    },
  };
}

/** A MicroTime as the API server parses it: RFC 3339 with exactly six fractional digits. */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, '000Z');
