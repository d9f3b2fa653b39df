// DebugGrant helpers for integration tests: create as a given user, read, and list
// what RBAC exists for a grant.
import { GROUP, VERSION } from '../../src/api/schema.ts';
import type { DebugGrant } from '../../src/api/types.ts';
import { rbacName } from '../../src/api/names.ts';
import type { LocalUserName } from '../../hack/controlplane/users.ts';
import { clientsFor, statusCode } from './cluster.ts';
import { DEBUG_IMAGE } from './operator.ts';

export function grantSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    subject: { kind: 'User', name: 'alice' },
    podSelector: { matchLabels: { app: 'checkout' } },
    image: DEBUG_IMAGE,
    ttl: '1h',
    reason: 'INC-4211 checkout latency, need tcpdump',
    ...overrides,
  };
}

export async function createGrant(namespace: string, name: string, spec: Record<string, unknown>, as: LocalUserName = 'gitops'): Promise<DebugGrant> {
  return await clientsFor(as).objects.create({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'DebugGrant',
    metadata: { name, namespace },
    spec,
  } as never);
}

export async function getGrant(namespace: string, name: string): Promise<DebugGrant | undefined> {
  try {
    return (await clientsFor('admin').objects.read({
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'DebugGrant',
      metadata: { name, namespace },
    })) as unknown as DebugGrant;
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

export async function deleteGrant(namespace: string, name: string): Promise<void> {
  await clientsFor('admin').objects.delete({ apiVersion: `${GROUP}/${VERSION}`, kind: 'DebugGrant', metadata: { name, namespace } });
}

export async function rbacFor(namespace: string, grant: string): Promise<{ role: boolean; binding: boolean }> {
  const admin = clientsFor('admin');
  const exists = async (p: Promise<unknown>): Promise<boolean> => {
    try {
      await p;
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return false;
      throw err;
    }
  };
  return {
    role: await exists(admin.rbac.readNamespacedRole({ namespace, name: rbacName(grant) })),
    binding: await exists(admin.rbac.readNamespacedRoleBinding({ namespace, name: rbacName(grant) })),
  };
}

/** Every Role and RoleBinding in the namespace: bad input must leave none behind. */
export async function allRbac(namespace: string): Promise<string[]> {
  const admin = clientsFor('admin');
  const roles = await admin.rbac.listNamespacedRole({ namespace });
  const bindings = await admin.rbac.listNamespacedRoleBinding({ namespace });
  return [...roles.items.map((r) => `Role/${r.metadata?.name ?? ''}`), ...bindings.items.map((b) => `RoleBinding/${b.metadata?.name ?? ''}`)];
}

/** The grant's access is in place and verified by SubjectAccessReview. */
// (Ready=True alone also holds for a grant that ended and was verified gone: kstatus' "reconciled".)
export const isReady = (g: DebugGrant | undefined): boolean =>
  g?.status?.phase === 'Active' && g.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
