// The findings of issue #20, each as an attacker would try it against the real API server
// (and the operator where it has a part): every test here failed on the code before its fix.
import type { DebugGrantHistory, DebugGrantIndex } from '../../src/api/grant-index.ts';
import { HISTORY_KIND, INDEX_NAME, LINGERING_ANNOTATION, SESSIONS_ANNOTATION } from '../../src/api/names.ts';
import { GROUP, VERSION } from '../../src/api/schema.ts';
import type { LocalUserName } from '../../hack/controlplane/users.ts';
import { canI, clientsFor, createPod, eventually, freshNamespace, kubectl, rejection, statusCode, writePodStatus } from '../support/cluster.ts';
import { cli } from '../support/cli.ts';
import { addEphemeralContainer, debugContainer, kubeletState, second, standingDebugRbac, subjects } from '../support/debug-containers.ts';
import { allRbac, createGrant, deleteGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { DEBUG_IMAGE, startTestOperator } from '../support/operator.ts';
import { EXEMPT, TEST_POLICY } from '../support/policy.ts';

/** The message of a Status body, as kubectl prints it. */
const statusMessage = (body: string): string => (JSON.parse(body) as { message?: string }).message ?? body;

const canExec = (user: string, groups: string[], namespace: string, pod: string): Promise<boolean> =>
  canI({ user, groups: [...groups, 'system:authenticated'], namespace, verb: 'create', resource: 'pods', subresource: 'exec', name: pod });

async function readIndex(namespace: string): Promise<DebugGrantIndex | undefined> {
  try {
    return (await clientsFor('admin').objects.read({
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'DebugGrantIndex',
      metadata: { name: INDEX_NAME, namespace },
    })) as unknown as DebugGrantIndex;
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

let seq = 0;
const unique = (prefix: string): string => `${prefix}-${String(seq++)}`;

describe('1: no grant is served where its creation was not checked', () => {
  const OPERATOR_NAMESPACE = 'debuggrant-system';
  // Approvers and the GitOps identity, each asking for exec for themselves.
  const selfGrants: [LocalUserName, Record<string, unknown>][] = [
    ['carol', { subject: { kind: 'User', name: 'carol' } }],
    ['gitops', { subject: { kind: 'User', name: 'gitops' } }],
    ['carol', { subject: { kind: 'Group', name: 'debuggrant:approvers' } }],
  ];

  beforeAll(async () => {
    // The shipped operator namespace (config/manager, the policy's reservedNamespaces); deploy.test.ts may have made it.
    await clientsFor('admin')
      .core.createNamespace({ body: { metadata: { name: OPERATOR_NAMESPACE } } })
      .catch((err: unknown) => {
        if (statusCode(err) !== 409) throw err;
      });
  });

  test.each(selfGrants)('an exec grant by %s for %j in an exempt namespace is refused at creation', async (user, over) => {
    const ns = await freshNamespace('sec-exempt', EXEMPT);
    const name = unique('self');
    const refused = await rejection(createGrant(ns, name, grantSpec({ ...over, access: ['exec'] }), user));
    expect(refused.code).toBe(403);
    expect(statusMessage(refused.message)).toContain(`spec.subject: Forbidden: ${user} cannot approve a DebugGrant for themselves`);
    expect(await getGrant(ns, name)).toBeUndefined();
  });

  test.each([...TEST_POLICY.reservedNamespaces.filter((n) => n === OPERATOR_NAMESPACE || n === 'kube-system')])(
    'no exec grant is created in the reserved namespace %s, by approvers or GitOps, for themselves or anyone',
    async (ns) => {
      for (const [user, over] of [
        ...selfGrants,
        ['gitops', { subject: { kind: 'User', name: 'alice' } }],
        ['carol', { subject: { kind: 'User', name: 'gitops' } }],
      ] as const) {
        const name = unique('reserved');
        const refused = await rejection(createGrant(ns, name, grantSpec({ ...over, access: ['exec'] }), user));
        expect(refused.code).toBe(403);
        expect(statusMessage(refused.message)).toContain(
          `metadata.namespace: Forbidden: ${ns} is reserved (kube-system, kube-public, kube-node-lease, debuggrant-system)`,
        );
        expect(await getGrant(ns, name)).toBeUndefined();
      }
    },
  );

  test('a grant that got past the policy into a namespace the operator reserves ends Denied, and no RBAC is written', async () => {
    // The operator reserves its own namespace whatever the policy was told (POD_NAMESPACE): the
    // policy here does not know this one, as one created before the policy, or configured
    // otherwise, would not.
    const ns = await freshNamespace('sec-home');
    await createPod(ns, 'operator-1', { app: 'operator' });
    const op = await startTestOperator([ns], { reservedNamespaces: ['kube-system', ns] });
    try {
      // Each creator for the other: the policy admits both (neither is for its creator).
      await createGrant(
        ns,
        'for-carol',
        grantSpec({ subject: { kind: 'User', name: 'carol' }, access: ['exec'], podSelector: { matchLabels: { app: 'operator' } } }),
        'gitops',
      );
      await createGrant(
        ns,
        'for-gitops',
        grantSpec({ subject: { kind: 'User', name: 'gitops' }, access: ['exec'], podSelector: { matchLabels: { app: 'operator' } } }),
        'carol',
      );
      for (const name of ['for-carol', 'for-gitops']) {
        const g = await eventually(
          () => getGrant(ns, name),
          (x) => x?.status?.phase !== undefined,
        );
        expect(g?.status?.phase).toBe('Denied');
        expect(g?.status?.conditions?.find((c) => c.type === 'Denied')).toMatchObject({
          reason: 'ReservedNamespace',
          message: `${ns} is a reserved namespace (kube-system, ${ns}): debuggrant never grants access in the operator's own namespace or a system namespace`,
        });
        expect(
          op
            .audits()
            .filter((a) => a.grant === `${ns}/${name}`)
            .map((a) => a.event),
        ).toEqual(['grant.denied']);
      }
      expect(await allRbac(ns)).toEqual([]);
      expect((await readIndex(ns))?.active ?? []).toEqual([]);
      expect(await canExec('carol', ['debuggrant:approvers'], ns, 'operator-1')).toBe(false);
      expect(await canExec('gitops', ['debuggrant:gitops'], ns, 'operator-1')).toBe(false);
    } finally {
      await op.stop();
    }
  });
});

describe("2: each index entry carries its grant's access kinds; only debug admits an ephemeral container", () => {
  test('alice with a logs-only grant and standing patch on pods/ephemeralcontainers cannot add a debug container', async () => {
    const ns = await freshNamespace('sec-access');
    await createPod(ns, 'checkout-1', { app: 'checkout' });
    // Outside debuggrant: the standing right the admission policy exists to neutralise.
    await standingDebugRbac(ns, subjects('alice'));
    const op = await startTestOperator([ns]);
    try {
      await createGrant(ns, 'logs-only', grantSpec({ access: ['logs'] }));
      await eventually(() => getGrant(ns, 'logs-only'), isReady);
      const refused = await rejection(addEphemeralContainer('alice', ns, 'checkout-1', debugContainer('dbg-1', DEBUG_IMAGE, 'restricted')));
      expect(refused.code).toBe(403);
      expect(statusMessage(refused.message)).toContain(
        `DebugGrant ${ns}/logs-only (access: logs) does not give alice debug on pod ${ns}/checkout-1: ephemeral containers need a grant with access [debug]`,
      );
      const pod = await clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'checkout-1' });
      expect(pod.spec?.ephemeralContainers ?? []).toEqual([]);
      expect((await readIndex(ns))?.active?.map((e) => [e.grant, e.access])).toEqual([['logs-only', ['logs']]]);
    } finally {
      await op.stop();
    }
  });

  test('an entry an older operator wrote (no access) admits no debug container until the operator rewrites it at start', async () => {
    const ns = await freshNamespace('sec-legacy');
    await createPod(ns, 'checkout-1', { app: 'checkout' });
    const first = await startTestOperator([ns]);
    await createGrant(ns, 'debugs', grantSpec({ access: ['debug'] }));
    await eventually(() => getGrant(ns, 'debugs'), isReady);
    await first.stop();
    // What an operator before this change wrote: the same entry without access.
    const index = await readIndex(ns);
    const legacy = (index?.active ?? []).map(({ access: _dropped, ...rest }) => rest);
    await clientsFor('admin').objects.replace({ ...index, active: legacy } as never);
    const refused = await rejection(addEphemeralContainer('alice', ns, 'checkout-1', debugContainer('dbg-1', DEBUG_IMAGE, 'restricted')));
    expect(statusMessage(refused.message)).toContain(`DebugGrant ${ns}/debugs (access: not recorded) does not give alice debug`);

    const second = await startTestOperator([ns]);
    try {
      await eventually(
        () => readIndex(ns),
        (i) => i?.active?.[0]?.access?.includes('debug') === true,
      );
      // The policy reads the index from the API server's cache: it follows within moments.
      const pod = await eventually(
        () => addEphemeralContainer('alice', ns, 'checkout-1', debugContainer('dbg-2', DEBUG_IMAGE, 'restricted')).catch(() => undefined),
        (p) => p !== undefined,
      );
      expect(pod?.spec?.ephemeralContainers?.map((c) => c.name)).toEqual(['dbg-2']);
    } finally {
      await second.stop();
    }
  });
});

describe("5: a spent name stays spent when its namespace's index is lost", () => {
  const HOME = 'debuggrant-system';
  const historyOf = async (namespace: string): Promise<DebugGrantHistory | undefined> => {
    try {
      return (await clientsFor('admin').objects.read({
        apiVersion: `${GROUP}/${VERSION}`,
        kind: HISTORY_KIND,
        metadata: { name: namespace, namespace: HOME },
      })) as unknown as DebugGrantHistory;
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  };
  const spent = (ended: { grant: string }[] | undefined): boolean => (ended ?? []).some((e) => e.grant === 'spent');
  const deleteObject = (kind: string, name: string, namespace: string): Promise<unknown> =>
    clientsFor('admin').objects.delete({ apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name, namespace } });

  test("a cluster-admin deletes the grant and the index, then the index's restored copy and the history in turn: the re-applied grant is Denied", async () => {
    const ns = await freshNamespace('sec-spent');
    await createPod(ns, 'api-1', { app: 'checkout' });
    const op = await startTestOperator([ns]);
    try {
      await createGrant(ns, 'spent', grantSpec({ ttl: '2s' }));
      await eventually(
        () => getGrant(ns, 'spent'),
        (g) => g?.status?.phase === 'Expired',
      );
      await deleteGrant(ns, 'spent');
      await eventually(
        () => getGrant(ns, 'spent'),
        (g) => g === undefined,
      );
      // The second copy, in the operator's own namespace.
      expect(
        spent(
          (
            await eventually(
              () => historyOf(ns),
              (h) => spent(h?.ended),
            )
          )?.ended,
        ),
      ).toBe(true);

      // The index goes: it comes back (the operator serves the namespace) with the record restored from the history.
      await deleteObject('DebugGrantIndex', INDEX_NAME, ns);
      await eventually(
        () => readIndex(ns),
        (i) => spent(i?.ended),
      );
      // Then the history goes: restored from the index.
      await deleteObject(HISTORY_KIND, ns, HOME);
      await eventually(
        () => historyOf(ns),
        (h) => spent(h?.ended),
      );
      // And the index once more, for good measure: the re-applied copy meets whichever copy is there.
      await deleteObject('DebugGrantIndex', INDEX_NAME, ns);

      await createGrant(ns, 'spent', grantSpec({ ttl: '1h' }));
      const again = await eventually(
        () => getGrant(ns, 'spent'),
        (g) => g?.status?.phase !== undefined,
      );
      expect(again?.status?.phase).toBe('Denied');
      expect(again?.status?.conditions?.find((c) => c.type === 'Denied')?.reason).toBe('AlreadyUsed');
      expect(await allRbac(ns)).toEqual([]);
      expect(await canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'api-1' })).toBe(false);
    } finally {
      await op.stop();
    }
  });
});

describe("3: revoked-by only together with the revocation, and always the revoker's own name", () => {
  test("alice cannot set revoked-by on her grant without revoking it; a creator's later revoke is recorded as the creator's", async () => {
    const ns = await freshNamespace('sec-revoker');
    await createPod(ns, 'checkout-1', { app: 'checkout' });
    const op = await startTestOperator([ns]);
    try {
      await createGrant(ns, 'alices', grantSpec());
      await eventually(() => getGrant(ns, 'alices'), isReady);
      // The subject may patch her own grant (to revoke it): not to name a revoker in advance.
      const planted = await kubectl('alice', ['annotate', '-n', ns, 'dg', 'alices', 'debuggrant.dev/revoked-by=alice']);
      expect(planted.code).not.toBe(0);
      expect(planted.stderr).toContain('debuggrant.dev/revoked-by is set only together with debuggrant.dev/revoke, by the user who revokes');
      expect((await getGrant(ns, 'alices'))?.metadata.annotations ?? {}).toEqual({});

      // The GitOps identity (a creator) revokes it: the record names gitops everywhere.
      const out = await cli('gitops', ['revoke', 'alices', '-n', ns, '--reason', 'incident closed']);
      expect(out.stderr).toBe('');
      const g = await eventually(
        () => getGrant(ns, 'alices'),
        (x) => x?.status?.phase === 'Revoked',
      );
      expect(g?.metadata.annotations?.['debuggrant.dev/revoked-by']).toBe('gitops');
      expect(g?.status?.revokedBy).toBe('gitops');
      expect(g?.status?.conditions?.find((c) => c.type === 'Revoked')?.message).toBe('revoked by gitops: incident closed');
      const audit = await eventually(async () => Promise.resolve(op.audits().find((a) => a.event === 'grant.revoked' && a.grant === `${ns}/alices`)), Boolean);
      expect(audit?.by).toBe('gitops');
      const events = await eventually(
        async () => (await clientsFor('admin').core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=alices' })).items,
        (items) => items.some((e) => e.reason === 'RevokedByRequest'),
      );
      expect(events.find((e) => e.reason === 'RevokedByRequest')?.message).toBe('revoked by gitops: incident closed');
      expect(await canI({ user: 'alice', namespace: ns, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: 'checkout-1' })).toBe(false);
    } finally {
      await op.stop();
    }
  });
});

describe("7: the pod's records of reported debug containers (debuggrant.dev/sessions, debuggrant.dev/lingering) are the operator's alone", () => {
  const record = async (ns: string, pod: string, annotation = SESSIONS_ANNOTATION): Promise<string | undefined> =>
    (await clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: pod })).metadata?.annotations?.[annotation];
  // Anyone but the operator: a cluster-admin impersonated by the test's admin (who is the test operator's identity).
  const mallory = ['--as=mallory', '--as-group=system:masters'];

  test('no one else presets, changes or removes it, so a break-glass debug container is always reported', async () => {
    const ns = await freshNamespace('sec-sessions');
    await createPod(ns, 'web-1', { app: 'web' });
    await standingDebugRbac(ns, subjects('bob'));
    const op = await startTestOperator([ns]);
    try {
      // bob, with standing `patch pods`, marks the container he is about to add as already told.
      const preset = await kubectl('bob', ['annotate', '-n', ns, 'pod', 'web-1', `${SESSIONS_ANNOTATION}=sneaky=ended`]);
      expect(preset.code).not.toBe(0);
      expect(preset.stderr).toContain(
        `pod ${ns}/web-1: the annotation debuggrant.dev/sessions is the debuggrant operator's record of the debug containers it has reported; only the operator may add it (was "", would be "sneaky=ended")`,
      );
      // Or as already flagged lingering.
      const presetLingering = await kubectl('bob', ['annotate', '-n', ns, 'pod', 'web-1', `${LINGERING_ANNOTATION}=sneaky=${DEBUG_IMAGE}`]);
      expect(presetLingering.stderr).toContain(
        `pod ${ns}/web-1: the annotation debuggrant.dev/lingering is the debuggrant operator's record of the lingering debug containers it has reported; only the operator may add it`,
      );
      // A cluster-admin, through pods/status (whose update keeps metadata changes), claims it for a grant.
      const viaStatus = await kubectl('admin', [
        ...mallory,
        'patch',
        '-n',
        ns,
        'pod',
        'web-1',
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ metadata: { annotations: { [SESSIONS_ANNOTATION]: 'sneaky=grant:other' } } }),
      ]);
      expect(viaStatus.code).not.toBe(0);
      expect(viaStatus.stderr).toContain('only the operator may add it (was "", would be "sneaky=grant:other")');
      // Nor is a pod created carrying it (a workload template could).
      const created = await kubectl('admin', [
        ...mallory,
        'run',
        'planted',
        '-n',
        ns,
        '--image=registry.example.com/app:1',
        '--restart=Never',
        `--annotations=${SESSIONS_ANNOTATION}=sneaky=ended`,
      ]);
      expect(created.code).not.toBe(0);
      expect(created.stderr).toContain(`pod ${ns}/planted: the annotation debuggrant.dev/sessions is the debuggrant operator's record`);
      expect(created.stderr).toContain('only the operator may set it (create the pod without it)');
      expect((await kubectl('admin', ['get', 'pod', 'planted', '-n', ns])).stderr).toContain('NotFound');
      expect(await record(ns, 'web-1')).toBeUndefined();

      // The break-glass container is reported, and the operator writes its record.
      await addEphemeralContainer('admin', ns, 'web-1', debugContainer('sneaky', DEBUG_IMAGE, 'restricted'));
      await writePodStatus(ns, 'web-1', { phase: 'Running', ephemeralContainerStatuses: [kubeletState('sneaky', second(Date.now()))] });
      await eventually(
        () => record(ns, 'web-1'),
        (r) => r === 'sneaky=started',
      );
      const events = await eventually(
        async () => (await clientsFor('admin').core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.reason === 'SessionOutsideGrant'),
        (items) => items.length > 0,
      );
      expect(events.map((e) => e.involvedObject.name)).toEqual(['web-1']);
      await eventually(
        () => Promise.resolve(op.audits().filter((a) => a.event === 'session.started' && a.pods.includes('web-1'))),
        (lines) => lines.length === 1,
      );

      // No grant covers the pod: the operator flags the running container lingering, once.
      await eventually(
        () => record(ns, 'web-1', LINGERING_ANNOTATION),
        (r) => r === `sneaky=${DEBUG_IMAGE}`,
      );
      await eventually(
        async () => (await clientsFor('admin').core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.reason === 'LingeringEphemeralContainer'),
        (items) => items.length === 1,
      );
      const unflagged = await kubectl('bob', ['annotate', '-n', ns, 'pod', 'web-1', `${LINGERING_ANNOTATION}-`]);
      expect(unflagged.stderr).toContain(`only the operator may remove it (was "sneaky=${DEBUG_IMAGE}", would be "")`);
      // Marking it ended (so its end goes untold) or dropping the record are refused too.
      const ended = await kubectl('bob', ['annotate', '--overwrite', '-n', ns, 'pod', 'web-1', `${SESSIONS_ANNOTATION}=sneaky=ended`]);
      expect(ended.stderr).toContain('only the operator may change it (was "sneaky=started", would be "sneaky=ended")');
      const dropped = await kubectl('bob', ['annotate', '-n', ns, 'pod', 'web-1', `${SESSIONS_ANNOTATION}-`]);
      expect(dropped.stderr).toContain('only the operator may remove it (was "sneaky=started", would be "")');
      // Updates that leave it alone still pass: a label, and the kubelet's status writes.
      expect((await kubectl('bob', ['label', '-n', ns, 'pod', 'web-1', 'team=payments'])).code).toBe(0);
      await writePodStatus(ns, 'web-1', {
        ephemeralContainerStatuses: [kubeletState('sneaky', second(Date.now() - 1000), { at: second(Date.now()), exitCode: 0 })],
      });
      await eventually(
        () => record(ns, 'web-1'),
        (r) => r === 'sneaky=ended',
      );
      await eventually(
        () => Promise.resolve(op.audits().filter((a) => a.event === 'session.ended' && a.pods.includes('web-1'))),
        (lines) => lines.length === 1,
      );
    } finally {
      await op.stop();
    }
  });
});
