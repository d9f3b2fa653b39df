// The deadline holds whatever fails: a status write that keeps failing after the RoleBinding
// exists, an operator stopped between the RoleBinding and the status, a finalizer removed by
// hand while the operator was away, an RBAC write in flight at the deadline. Faults are
// injected around the operator's real client; the API server's authorizer is the judge.
import type { ActiveGrantEntry, DebugGrantIndex } from '../../src/api/grant-index.ts';
import { FINALIZER, rbacName } from '../../src/api/names.ts';
import { GROUP, PLURAL, VERSION } from '../../src/api/schema.ts';
import { fromKubeConfig, mergePatch } from '../../src/kube/client.ts';
import { readIndex } from '../../src/kube/grant-index.ts';
import { serverError, withFaults, type ApiCall, type ApiFault } from '../support/api-faults.ts';
import { canI, createPod, eventually, freshNamespace, kubeConfigFor } from '../support/cluster.ts';
import { allRbac, createGrant, deleteGrant, getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { startTestOperator } from '../support/operator.ts';
import { apiWithToken, serviceAccountToken } from '../support/service-account-operator.ts';
import { parseConfig } from '../../src/config.ts';
import { makeLogger } from '../../src/log.ts';
import { Operator } from '../../src/operator.ts';
import { APPROVED_REGISTRY } from '../support/policy.ts';

/** A status the operator never wrote: the CRD's default (kstatus reads it as not reconciled yet). */
const UNWRITTEN = { observedGeneration: 0 };

const POD = 'api-1';
const canDebug = (ns: string) => canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: POD });
const admin = () => fromKubeConfig(kubeConfigFor('admin'));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

async function activeEntry(ns: string, grant: string): Promise<ActiveGrantEntry | undefined> {
  return (await readIndex(admin(), ns))?.active?.find((e) => e.grant === grant);
}

const endedIn =
  (grant: string, uid: string | undefined) =>
  (i: DebugGrantIndex | undefined): boolean =>
    i?.ended?.some((e) => e.grant === grant && e.uid === uid) === true && !(i.active ?? []).some((e) => e.grant === grant);

/** The status writes of one grant fail as a broken API server would answer them. */
const failStatusOf = (grant: string): ApiFault => ({
  operation: 'patchNamespacedCustomObjectStatus',
  when: (p) => p.name === grant,
  before: () => Promise.reject(serverError(500)),
});

describe('the deadline holds whatever fails', () => {
  let ns: string;
  beforeEach(async () => {
    ns = await freshNamespace('faults');
    await createPod(ns, POD, { app: 'checkout' });
  });

  test('(a) status writes fail after the RoleBinding exists: revoked at the deadline, then recorded Expired, never Denied', async () => {
    const faulty = await startTestOperator([ns], {}, { wrapApi: (api) => withFaults(api, [failStatusOf('no-status')]) });
    let entry: ActiveGrantEntry | undefined;
    try {
      await createGrant(ns, 'no-status', grantSpec({ ttl: '4s' }));
      await eventually(
        () => canDebug(ns),
        (allowed) => allowed,
      );
      entry = await activeEntry(ns, 'no-status');
      expect(entry).toBeDefined();
      expect((await getGrant(ns, 'no-status'))?.status).toEqual(UNWRITTEN); // the fault held: nothing recorded yet
      const deadline = Date.parse(entry?.expiresAt ?? '');
      // Revoked from the persisted deadline although no status was ever written.
      await eventually(
        () => canDebug(ns),
        (allowed) => !allowed,
        20_000,
        20,
      );
      expect(Date.now() - deadline).toBeLessThan(2000);
      await eventually(() => readIndex(admin(), ns), endedIn('no-status', entry?.uid));
      expect(await rbacFor(ns, 'no-status')).toEqual({ role: false, binding: false });
      expect((await getGrant(ns, 'no-status'))?.status).toEqual(UNWRITTEN);
    } finally {
      await faulty.stop();
    }

    const healthy = await startTestOperator([ns]);
    try {
      const g = await eventually(
        () => getGrant(ns, 'no-status'),
        (x) => x?.status?.phase !== undefined,
      );
      expect(g?.status).toMatchObject({ phase: 'Expired', activatedAt: entry?.activatedAt, expiresAt: entry?.expiresAt });
      const events = healthy
        .audits()
        .filter((a) => a.grant === `${ns}/no-status`)
        .map((a) => a.event);
      expect(events).toEqual(expect.arrayContaining(['grant.activated', 'grant.expired']));
      expect(events).not.toContain('grant.denied');
    } finally {
      await healthy.stop();
    }
  });

  test('(a) stopped right after the RoleBinding appears, restarted after the deadline: revoked before start() returns, Expired with its audit lines', async () => {
    // The status write is held back, so the stop falls between the RoleBinding and the status.
    const first = await startTestOperator([ns], {}, { wrapApi: (api) => withFaults(api, [failStatusOf('crashed')]) });
    const notAfter = new Date(Date.now() + 4000).toISOString();
    try {
      await createGrant(ns, 'crashed', grantSpec({ ttl: '1h', notAfter }));
      await eventually(
        () => rbacFor(ns, 'crashed'),
        (r) => r.binding,
        15_000,
        10,
      );
    } finally {
      await first.stop();
    }
    expect((await getGrant(ns, 'crashed'))?.status).toEqual(UNWRITTEN);
    const entry = await activeEntry(ns, 'crashed');
    expect(entry?.expiresAt).toBe(notAfter);
    await sleep(Date.parse(notAfter) - Date.now() + 500);
    // Nobody is there: the access outlived its deadline (what the restart must end).
    expect(await canDebug(ns)).toBe(true);

    const second = await startTestOperator([ns]);
    try {
      expect(await canDebug(ns)).toBe(false);
      expect((await rbacFor(ns, 'crashed')).binding).toBe(false);
      const g = await eventually(
        () => getGrant(ns, 'crashed'),
        (x) => x?.status?.phase !== undefined,
      );
      expect(g?.status).toMatchObject({ phase: 'Expired', activatedAt: entry?.activatedAt, expiresAt: notAfter });
      expect(g?.status?.conditions?.find((c) => c.type === 'Expired')).toMatchObject({ status: 'True', reason: 'NotAfterReached' });
      const audits = second.audits().filter((a) => a.grant === `${ns}/crashed`);
      expect(audits.map((a) => a.event)).toEqual(expect.arrayContaining(['grant.activated', 'grant.expired']));
      expect(audits.find((a) => a.event === 'grant.activated')?.at).toBe(entry?.activatedAt);
      await eventually(
        () => allRbac(ns),
        (r) => r.length === 0,
      );
    } finally {
      await second.stop();
    }
  });

  test('restarted after the deadline, its pod list refused (403): the RoleBindings of an overdue grant and of one deleted meanwhile go anyway, before any pod is listed', async () => {
    const first = await startTestOperator([ns]);
    const notAfter = Date.now() + 4000;
    try {
      await createGrant(ns, 'no-pods', grantSpec({ ttl: '1h', notAfter: new Date(notAfter).toISOString() }));
      await createGrant(ns, 'gone-away', grantSpec({ ttl: '1h', subject: { kind: 'User', name: 'bob' } }));
      await eventually(() => getGrant(ns, 'no-pods'), isReady);
      await eventually(() => getGrant(ns, 'gone-away'), isReady);
    } finally {
      await first.stop();
    }
    // While it is away, a grant still in force is deleted with its finalizer removed by hand.
    await fromKubeConfig(kubeConfigFor('gitops')).custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, plural: PLURAL, namespace: ns, name: 'gone-away', body: { metadata: { finalizers: null } } },
      mergePatch,
    );
    await deleteGrant(ns, 'gone-away');
    await eventually(
      () => getGrant(ns, 'gone-away'),
      (x) => x === undefined,
    );
    expect((await rbacFor(ns, 'gone-away')).binding).toBe(true);
    // An identity with everything the revocation reads and writes, and no list/watch of pods:
    // that list never completes, as a 50,000-pod list takes its time.
    const admin = fromKubeConfig(kubeConfigFor('admin'));
    await admin.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'revoker' } } });
    await admin.rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'revoker' },
        rules: [
          { apiGroups: [GROUP], resources: ['debuggrants'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: [GROUP], resources: ['debuggrantindexes'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
          { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'], verbs: ['get', 'list', 'watch', 'delete'] },
        ],
      },
    });
    await admin.rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'revoker' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'revoker' },
        subjects: [{ kind: 'ServiceAccount', name: 'revoker', namespace: ns }],
      },
    });
    await sleep(notAfter - Date.now() + 300);
    expect(await canDebug(ns)).toBe(true); // nobody was there at the deadline

    const operator = new Operator({
      api: apiWithToken(await serviceAccountToken(ns, 'revoker')),
      config: parseConfig({ approvedRegistries: [APPROVED_REGISTRY], namespaces: [ns] }),
      log: makeLogger('silent'),
      processMetrics: false,
      identity: 'revoker',
    });
    const startedAt = Date.now();
    const starting = operator.start();
    try {
      await eventually(
        () => canDebug(ns),
        (allowed) => !allowed,
        15_000,
        20,
      );
      process.stderr.write(`[faults] restart with the pod list refused: access ended ${String(Date.now() - startedAt)} ms after the start\n`);
      expect((await rbacFor(ns, 'no-pods')).binding).toBe(false);
      await eventually(
        () => rbacFor(ns, 'gone-away'),
        (r) => !r.binding,
        10_000,
        20,
      );
      // Still starting: the pod list is what it waits for, and /readyz says so. The first sync
      // streams the list as a watch (WatchList); a 403 is never answered with a paged list
      // (it needs the same permission: src/runtime/watch-list.ts), so the refusal names watch.
      expect(operator.ready).toBe(false);
      expect(operator.notReady.join('; ')).toMatch(/pods@.*403 Forbidden.*cannot watch resource "pods"/);
    } finally {
      await operator.stop();
      await starting;
    }
  });

  test('(c) finalizer removed by hand while the operator was away, same YAML re-applied: Denied AlreadyUsed, old access gone, its end recorded', async () => {
    const first = await startTestOperator([ns]);
    let uid: string | undefined;
    try {
      const created = await createGrant(ns, 'reused', grantSpec({ ttl: '3s' }));
      uid = created.metadata.uid;
      await eventually(() => getGrant(ns, 'reused'), isReady);
    } finally {
      await first.stop();
    }
    const entry = await activeEntry(ns, 'reused');
    await sleep(Date.parse(entry?.expiresAt ?? '') - Date.now() + 300);
    // The grant-creator identity removes the finalizer and deletes the grant, then GitOps re-applies it.
    expect((await getGrant(ns, 'reused'))?.metadata.finalizers).toContain(FINALIZER);
    await fromKubeConfig(kubeConfigFor('gitops')).custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, plural: PLURAL, namespace: ns, name: 'reused', body: { metadata: { finalizers: null } } },
      mergePatch,
    );
    await deleteGrant(ns, 'reused');
    await eventually(
      () => getGrant(ns, 'reused'),
      (x) => x === undefined,
    );
    const again = await createGrant(ns, 'reused', grantSpec({ ttl: '3s' }));
    expect(again.metadata.uid).not.toBe(uid);
    expect(await canDebug(ns)).toBe(true); // the old RoleBinding is still there

    const second = await startTestOperator([ns]);
    try {
      expect(await canDebug(ns)).toBe(false);
      const g = await eventually(
        () => getGrant(ns, 'reused'),
        (x) => x?.status?.phase !== undefined,
      );
      expect(g?.status?.phase).toBe('Denied');
      expect(g?.status?.conditions?.find((c) => c.type === 'Denied')?.reason).toBe('AlreadyUsed');
      const index = await eventually(() => readIndex(admin(), ns), endedIn('reused', uid));
      expect(index?.ended?.find((e) => e.grant === 'reused')).toMatchObject({ uid, phase: 'Expired' });
      await eventually(
        () => allRbac(ns),
        (r) => r.length === 0,
      );
      const audits = second.audits().filter((a) => a.grant === `${ns}/reused`);
      expect(audits.find((a) => a.event === 'grant.expired')).toMatchObject({ reason: 'DeletedUnobserved', subject: 'User alice' });
      expect(audits.map((a) => a.event)).toContain('grant.denied');
      expect(audits.map((a) => a.event)).not.toContain('grant.activated');
    } finally {
      await second.stop();
    }
  });

  test("an RBAC write in flight at the deadline lands before the deadline's delete, and none is sent at or after it", async () => {
    const notAfter = Date.now() + 8000;
    const calls: ApiCall[] = [];
    const bindingName = rbacName('in-flight');
    // Once armed, the next RoleBinding apply (the repair of a hand edit) is held on the wire until 400 ms past the deadline.
    let armed = false;
    const holdApply: ApiFault = {
      operation: 'patchNamespacedRoleBinding',
      when: (p) => p.name === bindingName && armed,
      before: async () => {
        armed = false;
        await sleep(notAfter + 400 - Date.now());
      },
    };
    const op = await startTestOperator([ns], {}, { wrapApi: (api) => withFaults(api, [holdApply], calls) });
    try {
      await createGrant(ns, 'in-flight', grantSpec({ ttl: '1h', notAfter: new Date(notAfter).toISOString() }));
      await eventually(() => getGrant(ns, 'in-flight'), isReady);
      // A hand edit shortly before the deadline: the operator's repair is the write in flight at it.
      await sleep(notAfter - 2500 - Date.now());
      armed = true;
      const rbac = admin().rbac;
      const binding = await rbac.readNamespacedRoleBinding({ namespace: ns, name: bindingName });
      await rbac.replaceNamespacedRoleBinding({
        namespace: ns,
        name: bindingName,
        body: { ...binding, subjects: [...(binding.subjects ?? []), { kind: 'User', name: 'bob', apiGroup: 'rbac.authorization.k8s.io' }] },
      });

      const g = await eventually(
        () => getGrant(ns, 'in-flight'),
        (x) => x?.status?.conditions?.some((c) => c.type === 'RevocationVerified') === true,
        20_000,
      );
      expect(g?.status?.phase).toBe('Expired');
      expect(await canDebug(ns)).toBe(false);
      await eventually(
        () => allRbac(ns),
        (r) => r.length === 0,
      );

      const forBinding = calls.filter((c) => c.params.name === bindingName);
      const held = forBinding.find((c) => c.operation === 'patchNamespacedRoleBinding' && (c.doneAt ?? 0) > notAfter);
      expect(held?.calledAt).toBeLessThan(notAfter); // sent before the deadline, in flight at it
      const deletes = forBinding.filter((c) => c.operation === 'deleteNamespacedRoleBinding');
      expect(deletes.length).toBeGreaterThan(0);
      // Never interleaved: every delete was sent after the in-flight apply returned.
      for (const d of deletes) expect(d.calledAt).toBeGreaterThanOrEqual(held?.doneAt ?? Infinity);
      // Planned against the clock: no Role or RoleBinding write was sent at or after the deadline.
      const writes = calls.filter(
        (c) => (c.operation === 'patchNamespacedRoleBinding' || c.operation === 'patchNamespacedRole') && c.params.name === bindingName,
      );
      for (const w of writes) expect(w.calledAt).toBeLessThan(notAfter);
    } finally {
      await op.stop();
    }
  });

  test('an RBAC write whose turn comes after the deadline is refused', async () => {
    const notAfter = Date.now() + 3000;
    const calls: ApiCall[] = [];
    // The index entry is written first; hold that write past the deadline, so the RBAC writes would follow it.
    const holdIndex: ApiFault = {
      operation: 'createNamespacedCustomObject',
      when: (p) => p.plural === 'debuggrantindexes',
      before: () => sleep(notAfter + 300 - Date.now()),
    };
    const op = await startTestOperator([ns], {}, { wrapApi: (api) => withFaults(api, [holdIndex], calls) });
    try {
      await createGrant(ns, 'late-write', grantSpec({ ttl: '1h', notAfter: new Date(notAfter).toISOString() }));
      // No access ever existed, so either record is true: Expired (the deadline passed with an
      // index entry on record) or Denied (the deadline had passed before anything was granted).
      const g = await eventually(
        () => getGrant(ns, 'late-write'),
        (x) => ['Expired', 'Denied'].includes(x?.status?.phase ?? ''),
        20_000,
      );
      process.stderr.write(`[faults] late-write ended ${JSON.stringify(g?.status?.conditions?.map((c) => [c.type, c.status, c.reason]))}\n`);
      const rbacWrites = calls.filter((c) => c.operation === 'patchNamespacedRoleBinding' || c.operation === 'patchNamespacedRole');
      expect(rbacWrites).toEqual([]);
      // The record says only what is known: this operator wrote the entry and sent no RBAC, so
      // no access existed and no (back-dated) activation is told.
      const audits = op
        .audits()
        .filter((a) => a.grant === `${ns}/late-write`)
        .map((a) => a.event);
      expect(audits).not.toContain('grant.activated');
      expect(audits).toContainEqual(expect.stringMatching(/^grant\.(expired|denied)$/));
      expect(calls.some((c) => c.operation === 'createNamespacedCustomObject' && c.params.plural === 'debuggrantindexes')).toBe(true);
      expect(await allRbac(ns)).toEqual([]);
    } finally {
      await op.stop();
    }
  });
});
