// The coordination.k8s.io Lease the replicas compete for. Writes carry resourceVersion,
// so two candidates can never both believe they took it.
import type { V1Lease } from '@kubernetes/client-node';
import { isNotFound } from '../runtime/errors.ts';
import type { KubeApi, LeaseBody } from './client.ts';

export interface LeaseRecord {
  holder: string;
  renewTime: number;
  acquireTime: number;
  leaseDurationSeconds: number;
  transitions: number;
  resourceVersion?: string;
}

export interface LeaseStore {
  get(): Promise<LeaseRecord | undefined>;
  /** Creates (no resourceVersion) or replaces (with it); throws 409 when someone else moved first. */
  write(record: LeaseRecord): Promise<LeaseRecord>;
}

export function leaseStore(api: KubeApi, namespace: string, name: string): LeaseStore {
  const fromLease = (l: V1Lease): LeaseRecord => ({
    holder: l.spec?.holderIdentity ?? '',
    renewTime: l.spec?.renewTime ? new Date(l.spec.renewTime).getTime() : 0,
    acquireTime: l.spec?.acquireTime ? new Date(l.spec.acquireTime).getTime() : 0,
    leaseDurationSeconds: l.spec?.leaseDurationSeconds ?? 0,
    transitions: l.spec?.leaseTransitions ?? 0,
    resourceVersion: l.metadata?.resourceVersion,
  });
  return {
    async get() {
      try {
        return fromLease(await api.coordination.readNamespacedLease({ namespace, name }));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async write(r) {
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
        ? await api.coordination.replaceNamespacedLease({ namespace, name, body })
        : await api.coordination.createNamespacedLease({ namespace, body });
      return fromLease(written);
    },
  };
}

/** A MicroTime as the API server parses it: RFC 3339 with exactly six fractional digits. */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, '000Z');
