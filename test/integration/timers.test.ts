// The second deadline path against the API server alone (no controller-manager here, so no
// timer ever fires: test/node/second-deadline.test.ts shows them firing). What the API server
// decides is checked here: the timer exists before the RoleBinding it owns, the timers policy
// (config/admission/timers.yaml) refuses others any change to a timer and the operator any Job
// that could run a pod, and a timer the API server refuses never holds up the grant.
import * as k8s from '@kubernetes/client-node';
import { GRANT_UID_LABEL, rbacName } from '../../src/api/names.ts';
import type { DebugGrant } from '../../src/api/types.ts';
import { fromKubeConfig } from '../../src/kube/client.ts';
import { createTimer } from '../../src/kube/timers.ts';
import { desiredTimer, SECOND_DEADLINE, timerName } from '../../src/revocation/timer-job.ts';
import { canI, clientsFor, createPod, eventually, freshNamespace, kubeConfigFor, rejection, statusCode } from '../support/cluster.ts';
import { createGrant, getGrant, grantSpec, isReady, rbacFor } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const admin = (): ReturnType<typeof clientsFor> => clientsFor('admin');
const secondDeadline = (g: DebugGrant | undefined) => g?.status?.conditions?.find((c) => c.type === SECOND_DEADLINE);
const aliceCanExec = (namespace: string): Promise<boolean> =>
  canI({ user: 'alice', namespace, verb: 'create', resource: 'pods', subresource: 'exec', name: 'web-1' });
const readJob = (namespace: string, name: string): Promise<k8s.V1Job | undefined> =>
  admin()
    .batch.readNamespacedJob({ namespace, name })
    .catch((err: unknown) => {
      if (statusCode(err) === 404) return undefined;
      throw err;
    });
const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/**
 * How long after the first whole second at or after `expiresAt` the timer would fire, counted
 * from its creation second (a Job controller would start it in that second, or the next: the
 * request may cross a second boundary between the operator's clock and the server's stamp).
 */
function timerEndsLate(job: k8s.V1Job | undefined, expiresAt: string): number {
  const created = job?.metadata?.creationTimestamp?.getTime() ?? Number.NaN;
  return created + (job?.spec?.activeDeadlineSeconds ?? 0) * 1000 - Math.ceil(Date.parse(expiresAt) / 1000) * 1000;
}

/** A namespace with a pod, served by its own operator. */
async function servedNamespace(prefix: string, labels: Record<string, string> = {}): Promise<{ ns: string; op: TestOperator }> {
  const ns = await freshNamespace(prefix, labels);
  await createPod(ns, 'web-1', { app: 'web' });
  return { ns, op: await startTestOperator([ns]) };
}

async function activeGrant(ns: string, name: string, ttl: string): Promise<DebugGrant> {
  await createGrant(ns, name, grantSpec({ podSelector: { matchLabels: { app: 'web' } }, access: ['exec'], ttl }));
  const g = await eventually(() => getGrant(ns, name), isReady, 30_000);
  if (!g) throw new Error('no grant');
  return g;
}

/** After the deadline: access gone by SubjectAccessReview, one grant.expired audit line, by the operator. */
async function endsByOperator(op: TestOperator, ns: string, name: string, expiresAt: string): Promise<void> {
  await eventually(
    () => aliceCanExec(ns),
    (allowed) => !allowed,
    30_000,
    100,
  );
  expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
  const expired = await eventually(
    () => Promise.resolve(op.audits().filter((a) => a.grant === `${ns}/${name}` && a.event === 'grant.expired')),
    (l) => l.length > 0,
    10_000,
  );
  expect(expired.map((a) => a.by)).toEqual(['test-operator']);
}

describe('timer Jobs on the API server alone', () => {
  test("the RoleBinding is owned by the grant's inert timer Job, created first; with no controller-manager the grant says nothing runs it; the operator ends it and deletes the timer", async () => {
    const { ns, op } = await servedNamespace('timer');
    try {
      const grant = await activeGrant(ns, 'g', '9s');
      const job = await readJob(ns, timerName('g'));
      expect(job?.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.uid}`)).toEqual([`DebugGrant/${grant.metadata.uid ?? ''}`]);
      expect(job?.spec).toMatchObject({ parallelism: 0, ttlSecondsAfterFinished: 0, suspend: false });
      expect(job?.spec?.template.spec?.schedulingGates).toEqual([{ name: 'debuggrant.dev/never-runs' }]);
      // Its deadline: the first whole second at or after expiresAt, counted from this second.
      const expiresAt = grant.status?.expiresAt ?? '';
      expect(timerEndsLate(job, expiresAt)).toBeGreaterThanOrEqual(0);
      expect(timerEndsLate(job, expiresAt)).toBeLessThanOrEqual(1000);
      // The binding names the timer's uid as its one owner: the timer existed before it.
      const binding = await admin().rbac.readNamespacedRoleBinding({ namespace: ns, name: rbacName('g') });
      expect(binding.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}/${o.uid}`)).toEqual([`Job/${timerName('g')}/${job?.metadata?.uid ?? ''}`]);
      expect(binding.metadata?.labels?.[GRANT_UID_LABEL]).toBe(grant.metadata.uid);
      // The Role stays the grant's.
      const role = await admin().rbac.readNamespacedRole({ namespace: ns, name: rbacName('g') });
      expect(role.metadata?.ownerReferences?.map((o) => o.kind)).toEqual(['DebugGrant']);

      // No Job controller here: nothing sets startTime, and the grant says so.
      const told = await eventually(
        () => getGrant(ns, 'g'),
        (g) => secondDeadline(g)?.reason === 'NoJobController',
        15_000,
        200,
      );
      expect(secondDeadline(told)).toMatchObject({ status: 'False' });
      expect(secondDeadline(told)?.message).toContain('only the operator ends this grant');
      expect(told?.status?.phase).toBe('Active');

      await endsByOperator(op, ns, 'g', expiresAt);
      await eventually(
        () => readJob(ns, timerName('g')),
        (j) => j === undefined,
        10_000,
      );
      expect(await rbacFor(ns, 'g')).toEqual({ role: false, binding: false });
    } finally {
      await op.stop();
    }
  }, 60_000);

  test('a timer deleted before the deadline: access stays until the same deadline, under a new timer, and the grant says so', async () => {
    const { ns, op } = await servedNamespace('timer-del');
    try {
      const grant = await activeGrant(ns, 'g', '1h');
      const first = await readJob(ns, timerName('g'));
      await admin().batch.deleteNamespacedJob({ namespace: ns, name: timerName('g'), propagationPolicy: 'Background' });
      const second = await eventually(
        () => readJob(ns, timerName('g')),
        (j) => j !== undefined && j.metadata?.uid !== first?.metadata?.uid,
        15_000,
        100,
      );
      const binding = await eventually(
        () => admin().rbac.readNamespacedRoleBinding({ namespace: ns, name: rbacName('g') }),
        (b) => b.metadata?.ownerReferences?.[0]?.uid === second?.metadata?.uid,
        15_000,
        100,
      );
      expect(binding.metadata?.ownerReferences).toHaveLength(1);
      // Until the same recorded deadline.
      expect(timerEndsLate(second, grant.status?.expiresAt ?? '')).toBeGreaterThanOrEqual(0);
      expect(timerEndsLate(second, grant.status?.expiresAt ?? '')).toBeLessThanOrEqual(1000);
      const events = await eventually(
        () => admin().core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=TimerDeleted' }),
        (l) => l.items.length > 0,
      );
      expect(events.items[0]?.message).toContain('the timer Job was deleted before the deadline');
      expect(await aliceCanExec(ns)).toBe(true);
    } finally {
      await op.stop();
    }
  }, 60_000);
});

describe('the timers policy (config/admission/timers.yaml)', () => {
  const ref = (ns: string) => ({ namespace: ns, name: 'g', uid: 'uid-of-g' });
  /** bob may do anything with Jobs in the namespace; only the policy stands in his way. */
  async function namespaceWithJobEditor(): Promise<string> {
    const ns = await freshNamespace('timer-policy');
    await admin().rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'jobs' }, rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['*'] }] },
    });
    await admin().rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'jobs' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'jobs' },
        subjects: [{ kind: 'User', name: 'bob', apiGroup: 'rbac.authorization.k8s.io' }],
      },
    });
    return ns;
  }
  const jobNames = async (ns: string): Promise<string[]> =>
    (await admin().batch.listNamespacedJob({ namespace: ns })).items.map((j) => j.metadata?.name ?? '').sort();

  test('others may not create a timer or change its spec or labels; they may annotate it and delete it, cascading', async () => {
    const ns = await namespaceWithJobEditor();
    // Created as the operator (admin is the test operator's identity, in operatorUsers).
    const { timer } = await createTimer(fromKubeConfig(kubeConfigFor('admin')), desiredTimer(ref(ns), new Date(Date.now() + 60_000).toISOString(), Date.now()));
    const name = timer.metadata.name ?? '';
    const bob = clientsFor('bob').batch;
    const refusals = [
      await rejection(bob.patchNamespacedJob({ namespace: ns, name, body: [{ op: 'replace', path: '/spec/activeDeadlineSeconds', value: 3600 }] }, jsonPatch)),
      await rejection(bob.patchNamespacedJob({ namespace: ns, name, body: [{ op: 'replace', path: '/spec/activeDeadlineSeconds', value: 1 }] }, jsonPatch)),
      await rejection(bob.patchNamespacedJob({ namespace: ns, name, body: { spec: { suspend: true } } }, mergePatch)),
      await rejection(bob.patchNamespacedJob({ namespace: ns, name, body: { metadata: { labels: { 'debuggrant.dev/timer': null } } } }, mergePatch)),
      await rejection(
        bob.createNamespacedJob({
          namespace: ns,
          body: {
            ...desiredTimer(ref(ns), new Date(Date.now() + 60_000).toISOString(), Date.now()),
            metadata: { name: 'fake-timer', labels: { 'debuggrant.dev/timer': 'true' } },
          },
        }),
      ),
    ];
    for (const r of refusals) {
      expect(r.code).toBe(403);
      expect(r.message).toContain('is a debuggrant timer (label debuggrant.dev/timer): only the operator may create one or change its spec or labels');
    }
    const after = await readJob(ns, name);
    expect(after?.spec?.activeDeadlineSeconds).toBe(timer.activeDeadlineSeconds);
    expect(after?.spec?.suspend).toBe(false);
    expect(await jobNames(ns)).toEqual([name]);
    // What touches neither spec nor labels is not the policy's business (the garbage collector removes finalizers so).
    await bob.patchNamespacedJob({ namespace: ns, name, body: { metadata: { annotations: { note: 'x' } } } }, mergePatch);
    // bob's own Jobs are not timers: the policy leaves them alone.
    await bob.createNamespacedJob({
      namespace: ns,
      body: { metadata: { name: 'bobs' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } } },
    });
    // Deleting a timer is allowed when it cascades: it can only end access early (the garbage
    // collector deletes the RoleBinding it owns). Orphaning it (explicitly, or batch/v1's default
    // for a Job when no propagationPolicy is given) would detach that RoleBinding from its
    // deadline: refused.
    for (const options of [{}, { propagationPolicy: 'Orphan' }, { orphanDependents: true }]) {
      const orphaning = await rejection(bob.deleteNamespacedJob({ namespace: ns, name, ...options }));
      expect(orphaning.code).toBe(403);
      expect(orphaning.message).toContain(`Job ${ns}/${name} is a debuggrant timer: delete it with propagationPolicy Background or Foreground`);
    }
    expect((await readJob(ns, name))?.metadata?.deletionTimestamp).toBeUndefined();
    // bob's own Job is no timer: deleted however he likes.
    await bob.deleteNamespacedJob({ namespace: ns, name: 'bobs', propagationPolicy: 'Orphan' });
    // Background: gone at once (the garbage collector, where one runs, then deletes what it owned).
    await bob.deleteNamespacedJob({ namespace: ns, name, propagationPolicy: 'Background' });
    expect(await readJob(ns, name)).toBeUndefined();
  });

  test('the operator may write only inert timers, and only ever shorten their deadline', async () => {
    const ns = await namespaceWithJobEditor();
    const op = clientsFor('admin').batch;
    const timer = (): k8s.V1Job => desiredTimer(ref(ns), new Date(Date.now() + 60_000).toISOString(), Date.now());
    const spec = (j: k8s.V1Job): k8s.V1JobSpec => j.spec ?? { template: {} };
    const podSpec = (j: k8s.V1Job): k8s.V1PodSpec => j.spec?.template.spec ?? { containers: [] };
    const variants: [string, (j: k8s.V1Job) => void, string][] = [
      // (Labelled: a Job with no labels of its own gets its template's, the timer label included.)
      [
        'not a timer',
        (j) => {
          j.metadata = { name: 'plain', labels: { app: 'plain' } };
          j.spec = { template: spec(j).template };
        },
        'may write only timer Jobs',
      ],
      [
        'parallelism 1',
        (j) => {
          spec(j).parallelism = 1;
        },
        'must have parallelism 0',
      ],
      [
        'parallelism unset',
        (j) => {
          delete spec(j).parallelism;
        },
        'must have parallelism 0',
      ],
      [
        'suspended',
        (j) => {
          spec(j).suspend = true;
        },
        'never suspended',
      ],
      [
        'another controller',
        (j) => {
          spec(j).managedBy = 'example.com/other';
        },
        'run by the Job controller',
      ],
      [
        'no scheduling gate',
        (j) => {
          delete podSpec(j).schedulingGates;
        },
        'scheduling gate debuggrant.dev/never-runs and name no node',
      ],
      [
        'a node named',
        (j) => {
          podSpec(j).schedulingGates = undefined;
          podSpec(j).nodeName = 'localhost';
        },
        'scheduling gate debuggrant.dev/never-runs and name no node',
      ],
      [
        'no deadline',
        (j) => {
          delete spec(j).activeDeadlineSeconds;
        },
        'activeDeadlineSeconds and ttlSecondsAfterFinished 0',
      ],
      [
        'kept after finishing',
        (j) => {
          spec(j).ttlSecondsAfterFinished = 3600;
        },
        'activeDeadlineSeconds and ttlSecondsAfterFinished 0',
      ],
    ];
    for (const [what, change, message] of variants) {
      const job = timer();
      change(job);
      const refused = await rejection(op.createNamespacedJob({ namespace: ns, body: job }));
      expect([what, refused.code, refused.message.includes(message) ? message : refused.message]).toEqual([what, 403, message]);
    }
    expect(await jobNames(ns)).toEqual([]);

    const created = await op.createNamespacedJob({ namespace: ns, body: timer() });
    const name = created.metadata?.name ?? '';
    const seconds = created.spec?.activeDeadlineSeconds ?? 0;
    const longer = await rejection(op.patchNamespacedJob({ namespace: ns, name, body: { spec: { activeDeadlineSeconds: seconds + 1 } } }, mergePatch));
    expect(longer.message).toContain(`activeDeadlineSeconds may only be shortened (${String(seconds)} to ${String(seconds + 1)})`);
    for (const body of [{ spec: { suspend: true } }, { spec: { parallelism: 1 } }, { spec: { ttlSecondsAfterFinished: 60 } }]) {
      expect((await rejection(op.patchNamespacedJob({ namespace: ns, name, body }, mergePatch))).code).toBe(403);
    }
    const shorter = await op.patchNamespacedJob({ namespace: ns, name, body: { spec: { activeDeadlineSeconds: seconds - 1 } } }, mergePatch);
    expect(shorter.spec?.activeDeadlineSeconds).toBe(seconds - 1);
    const kept = await readJob(ns, name);
    expect(kept?.spec).toMatchObject({ parallelism: 0, suspend: false, ttlSecondsAfterFinished: 0 });
  });
});

describe('a timer the API server refuses never holds up the grant; the operator alone ends it', () => {
  test('a ResourceQuota on count/jobs.batch', async () => {
    const ns = await freshNamespace('timer-quota');
    await admin().core.createNamespacedResourceQuota({ namespace: ns, body: { metadata: { name: 'no-jobs' }, spec: { hard: { 'count/jobs.batch': '0' } } } });
    // No quota controller without a controller-manager: its status is written as that controller would.
    await admin().core.replaceNamespacedResourceQuotaStatus({
      namespace: ns,
      name: 'no-jobs',
      body: {
        metadata: { name: 'no-jobs', namespace: ns },
        spec: { hard: { 'count/jobs.batch': '0' } },
        status: { hard: { 'count/jobs.batch': '0' }, used: { 'count/jobs.batch': '0' } },
      },
    });
    await createPod(ns, 'web-1', { app: 'web' });
    const op = await startTestOperator([ns]);
    try {
      const grant = await activeGrant(ns, 'g', '6s');
      const c =
        secondDeadline(grant) ??
        (await eventually(
          () => getGrant(ns, 'g'),
          (g) => secondDeadline(g) !== undefined,
        ).then(secondDeadline));
      expect(c).toMatchObject({ status: 'False', reason: 'TimerRefused' });
      expect(c?.message).toContain('exceeded quota: no-jobs');
      const binding = await admin().rbac.readNamespacedRoleBinding({ namespace: ns, name: rbacName('g') });
      expect(binding.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.uid}`)).toEqual([`DebugGrant/${grant.metadata.uid ?? ''}`]);
      expect(await readJob(ns, timerName('g'))).toBeUndefined();
      await endsByOperator(op, ns, 'g', grant.status?.expiresAt ?? '');
    } finally {
      await op.stop();
    }
  }, 60_000);

  test('an admission policy refusing Jobs (as a policy engine would)', async () => {
    const policy = `test-refuse-jobs-${String(Date.now())}`;
    const reg = admin().admissionReg;
    await reg.createValidatingAdmissionPolicy({
      body: {
        metadata: { name: policy },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [{ apiGroups: ['batch'], apiVersions: ['*'], operations: ['CREATE'], resources: ['jobs'] }] },
          validations: [{ expression: 'false', message: "Jobs are refused here by the cluster's policy engine" }],
        },
      },
    });
    const ns = await freshNamespace('timer-vap', { 'timers-test': policy });
    await reg.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name: policy },
        spec: { policyName: policy, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'timers-test': policy } } } },
      },
    });
    try {
      // Policies take effect once the API server has loaded them: wait for a refusal of a plain Job.
      // (A timer, which the timers policy lets admin, the test operator, create.)
      const probe = desiredTimer({ namespace: ns, name: 'probe', uid: 'probe-uid' }, new Date(Date.now() + 60_000).toISOString(), Date.now());
      await eventually(
        () =>
          admin()
            .batch.createNamespacedJob({ namespace: ns, body: probe })
            .then(
              () => '',
              (err: unknown) => String((err as { body?: unknown }).body),
            ),
        (m) => m.includes('policy engine'),
        15_000,
        200,
      );
      await createPod(ns, 'web-1', { app: 'web' });
      const op = await startTestOperator([ns]);
      try {
        const grant = await activeGrant(ns, 'g', '6s');
        const c = secondDeadline(
          await eventually(
            () => getGrant(ns, 'g'),
            (g) => secondDeadline(g) !== undefined,
          ),
        );
        expect(c).toMatchObject({ status: 'False', reason: 'TimerRefused' });
        expect(c?.message).toContain("Jobs are refused here by the cluster's policy engine");
        await endsByOperator(op, ns, 'g', grant.status?.expiresAt ?? '');
      } finally {
        await op.stop();
      }
    } finally {
      await reg.deleteValidatingAdmissionPolicyBinding({ name: policy });
      await reg.deleteValidatingAdmissionPolicy({ name: policy });
    }
  }, 60_000);

  test('a namespace being deleted whose index went first: a deleted grant still lets go (its finalizer), so the namespace can go', async () => {
    const { ns, op } = await servedNamespace('timer-nsgone');
    try {
      await activeGrant(ns, 'g', '1h');
      // As the namespace controller would, in some order: the namespace, the index, then the grant.
      await admin().core.deleteNamespace({ name: ns });
      await admin().objects.delete({ apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrantIndex', metadata: { name: 'grants', namespace: ns } });
      await admin().objects.delete({ apiVersion: 'debuggrant.dev/v1alpha1', kind: 'DebugGrant', metadata: { name: 'g', namespace: ns } });
      await eventually(
        () => getGrant(ns, 'g'),
        (g) => g === undefined,
        15_000,
        100,
      );
      expect(await aliceCanExec(ns)).toBe(false);
      const ended = op.audits().filter((a) => a.grant === `${ns}/g` && a.event === 'grant.revoked');
      expect(ended.map((a) => a.by)).toEqual(['test-operator']);
    } finally {
      await op.stop();
    }
  }, 60_000);

  test('a namespace being deleted: a timer can no longer be created there, and the grant still ends on time', async () => {
    const { ns, op } = await servedNamespace('timer-nsdel');
    try {
      const grant = await activeGrant(ns, 'g', '8s');
      // No namespace controller here: the namespace stays Terminating, its objects in place.
      await admin().core.deleteNamespace({ name: ns });
      await admin().batch.deleteNamespacedJob({ namespace: ns, name: timerName('g'), propagationPolicy: 'Background' });
      const told = await eventually(
        () => getGrant(ns, 'g'),
        (g) => secondDeadline(g)?.reason === 'TimerRefused',
        15_000,
        100,
      );
      expect(secondDeadline(told)?.message).toContain('because it is being terminated');
      const binding = await eventually(
        () => admin().rbac.readNamespacedRoleBinding({ namespace: ns, name: rbacName('g') }),
        (b) => b.metadata?.ownerReferences?.[0]?.kind === 'DebugGrant',
        10_000,
        100,
      );
      expect(binding.metadata?.ownerReferences?.[0]?.uid).toBe(grant.metadata.uid);
      await endsByOperator(op, ns, 'g', grant.status?.expiresAt ?? '');
    } finally {
      await op.stop();
    }
  }, 60_000);
});
