// The API server itself refuses a debuggrant RoleBinding whose grant has no recorded deadline
// in force (config/admission/rbac-deadline.yaml): a write that arrives after the deadline (held
// in the network, sent by a replica whose clock is slow) or one for a grant never recorded.
// Written here as the operator writes them (the same plan, server-side apply, its field
// manager), by the API server's clock; no operator runs in these namespaces.
import * as k8s from '@kubernetes/client-node';
import type { V1RoleBinding } from '@kubernetes/client-node';
import { rbacName } from '../../src/api/names.ts';
import { fromKubeConfig, type KubeApi } from '../../src/kube/client.ts';
import { changeIndex } from '../../src/kube/grant-index.ts';
import { NO_ACTIVE_ENTRY, applyRoleBinding, deleteRoleBinding } from '../../src/kube/rbac.ts';
import { ownedBy, planGrantRbac } from '../../src/controller/rbac.ts';
import { canI, clientsFor, eventually, freshNamespace, kubeConfigFor, rejection } from '../support/cluster.ts';
import { bindRole, subjects } from '../support/debug-containers.ts';
import { allRbac, createGrant, grantSpec } from '../support/grants.ts';
import { EXEMPT } from '../support/policy.ts';

const TTL_MS = 4000;

describe("RoleBindings only while the grant's recorded deadline holds, by the API server", () => {
  let api: KubeApi;
  beforeAll(() => {
    api = fromKubeConfig(kubeConfigFor('admin'));
  });

  /** A real grant (for its uid; no operator serves the namespace) and the binding the operator would write for it. */
  async function grantAndBinding(namespace: string, name: string): Promise<{ uid: string; binding: V1RoleBinding }> {
    const grant = await createGrant(namespace, name, grantSpec({ podSelector: { matchLabels: { app: 'web' } } }));
    const uid = grant.metadata.uid ?? '';
    const rbac = planGrantRbac({ namespace, name, uid }, { access: ['exec'], subject: { kind: 'User', name: 'alice' } }, ['web-1']);
    if (!rbac) throw new Error('no RBAC planned');
    return { uid, binding: rbac.binding };
  }

  async function record(namespace: string, grant: string, uid: string, expiresAt: number): Promise<void> {
    const now = new Date();
    await changeIndex(
      api,
      namespace,
      {
        kind: 'upsert',
        entry: {
          grant,
          uid,
          username: 'alice',
          group: '',
          pods: ['web-1'],
          image: 'registry.example.com/debug/x',
          profile: 'restricted',
          activatedAt: now.toISOString(),
          expiresAt: new Date(expiresAt).toISOString(),
        },
      },
      now,
      60_000,
    );
  }

  /** A fresh namespace with a grant whose entry is in force for TTL_MS, and its binding applied. */
  async function boundWhileInForce(name: string): Promise<{ ns: string; binding: V1RoleBinding; expiresAt: number }> {
    const ns = await freshNamespace('rbacdl');
    const { uid, binding } = await grantAndBinding(ns, name);
    const expiresAt = Date.now() + TTL_MS;
    await record(ns, name, uid, expiresAt);
    await applyRoleBinding(api, binding);
    return { ns, binding, expiresAt };
  }

  const aliceCanExec = (namespace: string): Promise<boolean> =>
    canI({ user: 'alice', namespace, verb: 'create', resource: 'pods', subresource: 'exec', name: 'web-1' });

  test('created while the entry is in force; after its expiresAt neither re-created nor re-pointed, and deleting is still allowed', async () => {
    const { ns, binding, expiresAt } = await boundWhileInForce('g');
    expect((await allRbac(ns)).filter((o) => o.startsWith('RoleBinding/'))).toEqual([`RoleBinding/${rbacName('g')}`]);

    // The same apply again changes nothing and stays allowed, even after the deadline.
    await new Promise((r) => setTimeout(r, expiresAt + 1000 - Date.now()));
    await applyRoleBinding(api, binding);

    // Adding a subject after the deadline: refused, with the deadline and the server's time.
    const widened = { ...binding, subjects: [...(binding.subjects ?? []), { kind: 'User', name: 'bob', apiGroup: 'rbac.authorization.k8s.io' }] };
    const refused = await rejection(applyRoleBinding(api, widened));
    expect(refused.code).toBe(403);
    expect(refused.message).toContain(`DebugGrant ${ns}/g expired at`);
    expect(refused.message).toContain("the API server's time of this request is");
    const kept = await clientsFor('admin').rbac.readNamespacedRoleBinding({ namespace: ns, name: rbacName('g') });
    expect((kept.subjects ?? []).map((s) => s.name)).toEqual(['alice']);

    // Revoking is never refused; re-creating after the deadline is.
    expect(await deleteRoleBinding(api, ns, rbacName('g'))).toBe(true);
    const late = await rejection(applyRoleBinding(api, binding));
    expect(late.code).toBe(403);
    expect(late.message).toContain(`DebugGrant ${ns}/g expired at`);
    expect(await allRbac(ns)).toEqual([]);
    expect(await aliceCanExec(ns)).toBe(false);
  });

  test('no entry for the grant, or one for another grant of that name (another uid): refused, nothing created', async () => {
    const ns = await freshNamespace('rbacdl');
    const { binding } = await grantAndBinding(ns, 'unrecorded');
    // No index at all in the namespace: the API server's own refusal (422) for a missing param.
    const noIndex = await rejection(applyRoleBinding(api, binding));
    expect(noIndex.code).toBe(422);
    expect(noIndex.message).toContain('debuggrant-rbac-deadline');
    expect(noIndex.message).toContain('no params found');
    // An index whose entry for that name has another uid (a deleted predecessor's).
    await record(ns, 'unrecorded', 'a-predecessor-uid', Date.now() + 60_000);
    const otherUid = await rejection(applyRoleBinding(api, binding));
    expect(otherUid.code).toBe(403);
    expect(otherUid.message).toContain(`RoleBinding ${ns}/${rbacName('unrecorded')} (grant unrecorded) ${NO_ACTIVE_ENTRY} for that grant and owner`);
    expect(await allRbac(ns)).toEqual([]);
    expect(await aliceCanExec(ns)).toBe(false);
  });

  test("bindings that are not a grant's are outside the policy; exempt namespaces are not", async () => {
    const ns = await freshNamespace('rbacdl');
    const { binding } = await grantAndBinding(ns, 'other');
    // Another RoleBinding, in a namespace with no index: not refused for lack of one (the
    // policy's matchConditions come before its param).
    const unlabelled = {
      ...binding,
      metadata: { ...binding.metadata, name: 'someone-elses', labels: {}, ownerReferences: [] },
      roleRef: { ...binding.roleRef, kind: 'ClusterRole', name: 'view' },
    };
    await applyRoleBinding(api, unlabelled);
    expect(await allRbac(ns)).toEqual(['RoleBinding/someone-elses']);
    // The operator serves grants in exempt namespaces too (the label exempts ephemeral containers only).
    const exempt = await freshNamespace('rbacdl-exempt', EXEMPT);
    const there = await grantAndBinding(exempt, 'other');
    const refused = await rejection(applyRoleBinding(api, there.binding));
    expect(refused.message).toContain('debuggrant-rbac-deadline');
    expect(await allRbac(exempt)).toEqual([]);
  });

  test("#20.4: removing or changing its labels, then adding a subject, or binding the grant's Role anew: each refused after the deadline", async () => {
    const { ns, binding, expiresAt } = await boundWhileInForce('dodge');
    await new Promise((r) => setTimeout(r, expiresAt + 1000 - Date.now()));
    const rbac = clientsFor('admin').rbac;
    const name = rbacName('dodge');
    const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
    const bob = { kind: 'User', name: 'bob', apiGroup: 'rbac.authorization.k8s.io' };
    // Each edit an admin (no operator running) might use to take the binding out of the policy's sight.
    for (const patch of [
      [{ op: 'remove', path: '/metadata/labels/app.kubernetes.io~1managed-by' }],
      [{ op: 'remove', path: '/metadata/labels' }],
      [{ op: 'replace', path: '/metadata/labels/debuggrant.dev~1grant', value: 'another' }],
    ]) {
      const refused = await rejection(rbac.patchNamespacedRoleBinding({ namespace: ns, name, body: patch }, jsonPatch));
      expect(refused.code).toBe(403);
      // Two policies refuse a changed grant label (rbac-deadline and rbac-marks); the API server
      // reports whichever it evaluated first, in no fixed order.
      expect(refused.message).toMatch(new RegExp(`RoleBinding ${ns}/${name} belongs to (a DebugGrant|DebugGrant dodge and stays that grant's)`));
    }
    const widened = await rejection(
      rbac.patchNamespacedRoleBinding({ namespace: ns, name, body: [{ op: 'add', path: '/subjects/-', value: bob }] }, jsonPatch),
    );
    expect(widened.code).toBe(403);
    expect(widened.message).toContain(`DebugGrant ${ns}/dodge expired at`);
    // #20.6: the time printed is this request's (its writer's entry), not that of the entry it
    // took the subjects from (the apply before the deadline, which keeps its older time).
    const printed = /the API server's time of this request is (\S+), in whole seconds/.exec(widened.message)?.[1] ?? '';
    expect(Date.parse(printed)).toBeGreaterThanOrEqual(Math.floor(expiresAt / 1000) * 1000);
    // A binding of the grant's Role by another name, without the grant's labels.
    const anew = await rejection(
      rbac.createNamespacedRoleBinding({ namespace: ns, body: { metadata: { name: 'bobs-way-in' }, roleRef: binding.roleRef, subjects: [bob] } }),
    );
    expect(anew.code).toBe(403);
    expect(anew.message).toContain(`RoleBinding ${ns}/bobs-way-in refers to Role ${name}, a DebugGrant's, without that grant's labels`);
    const kept = await rbac.readNamespacedRoleBinding({ namespace: ns, name });
    expect(kept.metadata?.labels).toEqual(binding.metadata?.labels);
    expect((kept.subjects ?? []).map((s) => s.name)).toEqual(['alice']);
    expect(await allRbac(ns)).toEqual([`RoleBinding/${name}`]);
    expect(await canI({ user: 'bob', namespace: ns, verb: 'create', resource: 'pods', subresource: 'exec', name: 'web-1' })).toBe(false);
    expect(await deleteRoleBinding(api, ns, name)).toBe(true);
  });

  test("its owner reference comes off only by the operator's own write while in force: not by a namespace admin nor the garbage collector, before or after the deadline", async () => {
    // The owner (the grant's timer Job, or the grant where there is no timer) is how Kubernetes'
    // own controllers delete the binding at the deadline with no operator running. Removing it
    // touches only the garbage collector's fields, so RBAC skips its escalation check: anyone with
    // `patch rolebindings` in the namespace (ClusterRole admin) may send it, and it leaves no
    // fresh managedFields time (the operator's entry only shrinks and keeps its older one).
    const { ns, binding, expiresAt } = await boundWhileInForce('owned');
    const name = rbacName('owned');
    const admin = clientsFor('admin').rbac;
    // What ClusterRole admin (aggregated by the controller-manager, absent here) gives a namespace admin over RoleBindings.
    await bindRole(
      ns,
      'namespace-admin',
      [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'], verbs: ['get', 'list', 'patch', 'update', 'delete'] }],
      subjects('bob'),
    );
    // The authorizer's cache takes the new binding in a few milliseconds.
    await eventually(
      () => canI({ user: 'bob', namespace: ns, verb: 'patch', resource: 'rolebindings', group: 'rbac.authorization.k8s.io', name }),
      (can) => can,
    );
    const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
    const asCollector = k8s.setHeaderOptions('Impersonate-User', 'system:serviceaccount:kube-system:generic-garbage-collector', jsonPatch);
    const removeOwners = { namespace: ns, name, body: [{ op: 'remove', path: '/metadata/ownerReferences' }] };
    const bobsRbac = clientsFor('bob').rbac;
    const owners = async (): Promise<string[]> =>
      ((await admin.readNamespacedRoleBinding({ namespace: ns, name })).metadata?.ownerReferences ?? []).map((o) => o.uid);
    const granted = binding.metadata?.ownerReferences?.map((o) => o.uid) ?? [];
    expect(await owners()).toEqual(granted);
    // Bob (a namespace admin) and the garbage collector's identity try to take the owner off: both refused.
    const neitherRemovesOwners = async (): Promise<void> => {
      for (const send of [
        () => bobsRbac.patchNamespacedRoleBinding(removeOwners, jsonPatch),
        () => admin.patchNamespacedRoleBinding(removeOwners, asCollector),
      ]) {
        const refused = await rejection(send());
        expect(refused.code).toBe(403);
        expect(refused.message).toContain(`RoleBinding ${ns}/${name} belongs to a DebugGrant: only the operator changes its debuggrant labels and owners`);
      }
    };

    // While in force.
    await neitherRemovesOwners();
    // The operator re-owns it (a new timer) by server-side apply while in force: allowed.
    const timer = { apiVersion: 'batch/v1', kind: 'Job', name: 'owned-timer', uid: '0e0e0e0e-0000-4000-8000-000000000001', controller: true };
    await applyRoleBinding(api, ownedBy(binding, timer));
    expect(await owners()).toEqual([timer.uid]);

    await new Promise((r) => setTimeout(r, expiresAt + 1000 - Date.now()));
    // After the deadline. (The operator's own identity is not refused such a removal: it stamps
    // no time, see the policy; the operator never sends one.)
    await neitherRemovesOwners();
    expect(await owners()).toEqual([timer.uid]);
    // Deleting it stays allowed (to bob too).
    await bobsRbac.deleteNamespacedRoleBinding({ namespace: ns, name });
    expect((await allRbac(ns)).filter((o) => o.startsWith('RoleBinding/debuggrant-'))).toEqual([]);
  });
});
