// What Argo CD and Flux make of a grant in every phase, computed by the code they run
// (hack/tools/gitops: health.lua under gopher-lua as Argo CD runs it; kstatus of
// sigs.k8s.io/cli-utils and of the fluxcd fork kustomize-controller health-checks with), over
// the objects the real API server returns while the operator drives grants through their life.
// DEBUGGRANT_WRITE_GITOPS_TESTDATA=1 also writes each object to the Argo CD check's testdata/.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { clientsFor, createPod, eventually, freshNamespace, kubectl, writePodStatus } from '../support/cluster.ts';
import { cli } from '../support/cli.ts';
import { createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { addEphemeralContainer, debugContainer } from '../support/debug-containers.ts';
import { ARGOCD_CUSTOMIZATIONS, ensureGitopsCheck, runGitopsCheck, verdictsOnLive, type Verdicts } from '../support/gitops.ts';
import { DEBUG_IMAGE, startTestOperator, type TestOperator } from '../support/operator.ts';
import type { DebugGrant } from '../../src/api/types.ts';

const TESTDATA = join(ARGOCD_CUSTOMIZATIONS, 'debuggrant.dev/DebugGrant/testdata');

/** Both kstatus computations agree, and both Argo CD library modes agree. */
async function verdicts(ns: string, name: string, testdata?: string): Promise<Verdicts> {
  const { object, verdicts: v } = await verdictsOnLive(ns, name);
  expect(v.argocdOpenLibs).toEqual(v.argocd);
  expect(v.fluxKstatus).toEqual(v.kstatus);
  if (testdata && process.env.DEBUGGRANT_WRITE_GITOPS_TESTDATA === '1') {
    writeFileSync(join(TESTDATA, `${testdata}.yaml`), stringify(JSON.parse(object)));
  }
  return v;
}

const expectVerdict = (v: Verdicts, argocd: string, kstatus: string, words: RegExp): void => {
  expect({ argocd: v.argocd.status, kstatus: v.kstatus.status }).toEqual({ argocd, kstatus });
  expect(v.argocd.message).toMatch(words);
};

describe('Argo CD health and kstatus of a grant, in every phase', () => {
  let ns: string;
  let unwatched: string;
  let refusing: string;
  let op: TestOperator;
  const policy = (ns: string): string => `dg-gitops-no-roles-${ns}`;
  beforeAll(async () => {
    ensureGitopsCheck();
    ns = await freshNamespace('gitops');
    unwatched = await freshNamespace('gitops-pending');
    refusing = await freshNamespace('gitops-failing');
    for (const n of [ns, refusing]) await createPod(n, 'checkout-1', { app: 'checkout' });
    await createPod(ns, 'payments-1', { app: 'payments' });
    await createPod(ns, 'cart-1', { app: 'cart' });
    // A namespace where the API server refuses every Role: the operator's reconcile fails there for good.
    const applied = await kubectl(
      'admin',
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'ValidatingAdmissionPolicy',
            metadata: { name: policy(refusing) },
            spec: {
              failurePolicy: 'Fail',
              matchConstraints: {
                resourceRules: [{ apiGroups: ['rbac.authorization.k8s.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['roles'] }],
              },
              validations: [{ expression: 'false', message: 'no Roles in this namespace (a reconcile the API server refuses)' }],
            },
          },
          {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'ValidatingAdmissionPolicyBinding',
            metadata: { name: policy(refusing) },
            spec: {
              policyName: policy(refusing),
              validationActions: ['Deny'],
              matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': refusing } } },
            },
          },
        ],
      }),
    );
    expect(applied.stderr).toBe('');
    // The operator's own policy is stricter than admission's (maxTtl 4h): a 3h grant is Denied by the operator.
    op = await startTestOperator([ns, refusing], { maxTtl: '2h' });
    // The first run may build gitops-check (about 100 s cold; .ci/run builds it up front).
  }, 10 * 60_000);
  afterAll(async () => {
    await op.stop();
    await kubectl('admin', ['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', policy(refusing), '--ignore-not-found']);
  });

  test('Pending: created, not reconciled yet: Progressing, InProgress (the CRD defaults observedGeneration to 0)', async () => {
    await createGrant(unwatched, 'pending', grantSpec());
    const g = await getGrant(unwatched, 'pending');
    expect(g?.status).toEqual({ observedGeneration: 0 });
    expectVerdict(await verdicts(unwatched, 'pending', 'pending'), 'Progressing', 'InProgress', /Waiting for the debuggrant operator/);
  });

  test('Active, verified: Healthy, Current', async () => {
    await createGrant(ns, 'active', grantSpec());
    await eventually(() => getGrant(ns, 'active'), isReady);
    expectVerdict(await verdicts(ns, 'active', 'active'), 'Healthy', 'Current', /^Active: 1 pod\(s\) granted until .*verified by SubjectAccessReview$/);
  });

  test('Active with no matching pod: Progressing, InProgress', async () => {
    await createGrant(ns, 'no-pods', grantSpec({ podSelector: { matchLabels: { app: 'nothing-here' } } }));
    await eventually(
      () => getGrant(ns, 'no-pods'),
      (g) => g?.status?.phase === 'Active',
    );
    expectVerdict(await verdicts(ns, 'no-pods', 'active-no-pods'), 'Progressing', 'InProgress', /^Active: NoMatchingPods: no running pod matches/);
  });

  test('Expired, access verified gone: Healthy (a normal end), Current', async () => {
    await createGrant(ns, 'expired', grantSpec({ ttl: '3s', podSelector: { matchLabels: { app: 'payments' } } }));
    await eventually(
      () => getGrant(ns, 'expired'),
      (g) => g?.status?.phase === 'Expired' && g.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
      20_000,
    );
    expectVerdict(
      await verdicts(ns, 'expired', 'expired'),
      'Healthy',
      'Current',
      /^Expired \(a normal end\): ttl 3s elapsed at .*; no access remains \(SubjectAccessReview\)$/,
    );
  });

  test('Revoked on request: Healthy (a normal end), Current', async () => {
    await createGrant(ns, 'revoked', grantSpec({ podSelector: { matchLabels: { app: 'cart' } } }));
    await eventually(() => getGrant(ns, 'revoked'), isReady);
    const out = await cli('carol', ['revoke', 'revoked', '-n', ns, '--reason', 'incident closed']);
    expect(out.code).toBe(0);
    await eventually(
      () => getGrant(ns, 'revoked'),
      (g) => g?.status?.phase === 'Revoked' && g.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
    );
    expectVerdict(
      await verdicts(ns, 'revoked', 'revoked'),
      'Healthy',
      'Current',
      /^Revoked \(a normal end\): revoked by carol: incident closed; no access remains/,
    );
  });

  test("Denied by the operator's policy: Degraded, Failed", async () => {
    await createGrant(ns, 'denied', grantSpec({ ttl: '3h' }));
    await eventually(
      () => getGrant(ns, 'denied'),
      (g) => g?.status?.phase === 'Denied',
    );
    expectVerdict(
      await verdicts(ns, 'denied', 'denied'),
      'Degraded',
      'Failed',
      /^Denied: PolicyViolation: spec.ttl: 3h is longer than this cluster's maximum of 2h/,
    );
  });

  test('a reconcile the API server refuses (Failing): Degraded, Failed', async () => {
    await createGrant(refusing, 'failing', grantSpec());
    const g = await eventually(
      () => getGrant(refusing, 'failing'),
      (x) => x?.status?.conditions?.some((c) => c.type === 'Failing') === true,
      20_000,
    );
    expect(g?.status?.observedGeneration).toBe(g?.metadata.generation);
    expectVerdict(
      await verdicts(refusing, 'failing', 'failing'),
      'Degraded',
      'Failed',
      /^Pending: PermanentError: reconcile refused by the API server.*no Roles in this namespace/,
    );
  });

  test('Expired with access standing through another binding: Degraded, Failed', async () => {
    const admin = clientsFor('admin');
    await admin.rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'standing-exec' }, rules: [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'] }] },
    });
    await admin.rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'standing-exec' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'standing-exec' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'bob' }],
      },
    });
    await createGrant(ns, 'standing', grantSpec({ ttl: '3s', subject: { kind: 'User', name: 'bob' }, access: ['exec'] }));
    await eventually(
      () => getGrant(ns, 'standing'),
      (g) => g?.status?.conditions?.find((c) => c.type === 'RevocationVerified')?.status === 'False',
      25_000,
    );
    expectVerdict(
      await verdicts(ns, 'standing', 'expired-standing-access'),
      'Degraded',
      'Failed',
      /^Expired: StandingAccess: User bob still has access through other RBAC bindings/,
    );
  });

  test('Expired with a debug container still running: Degraded, Failed, until it stops', async () => {
    await createPod(ns, 'search-1', { app: 'search' });
    await createGrant(ns, 'lingering', grantSpec({ ttl: '4s', podSelector: { matchLabels: { app: 'search' } } }));
    await eventually(() => getGrant(ns, 'lingering'), isReady);
    await addEphemeralContainer('admin', ns, 'search-1', debugContainer('debugger-1', DEBUG_IMAGE, 'restricted'));
    const running = { name: 'debugger-1', image: DEBUG_IMAGE, imageID: '', ready: false, restartCount: 0 };
    await writePodStatus(ns, 'search-1', { phase: 'Running', ephemeralContainerStatuses: [{ ...running, state: { running: { startedAt: new Date() } } }] });
    const stalled = (g: DebugGrant | undefined): string | undefined => g?.status?.conditions?.find((c) => c.type === 'Stalled')?.status;
    await eventually(
      () => getGrant(ns, 'lingering'),
      (g) => g?.status?.phase === 'Expired' && stalled(g) === 'True',
      20_000,
    );
    expectVerdict(await verdicts(ns, 'lingering', 'expired-lingering'), 'Degraded', 'Failed', /^Expired: LingeringEphemeralContainer: .*search-1\/debugger-1/);
    // The kubelet reports it stopped: a normal end again (status.lingering keeps the record).
    await writePodStatus(ns, 'search-1', {
      ephemeralContainerStatuses: [{ ...running, state: { terminated: { exitCode: 0, startedAt: new Date(), finishedAt: new Date() } } }],
    });
    const after = await eventually(
      () => getGrant(ns, 'lingering'),
      (g) => stalled(g) === 'False',
    );
    expect(after?.status?.lingering?.map((l) => l.container)).toEqual(['debugger-1']);
    expectVerdict(await verdicts(ns, 'lingering'), 'Healthy', 'Current', /^Expired \(a normal end\)/);
  });

  test('being deleted: Progressing, Terminating', async () => {
    // Held by another party's finalizer (the operator does not watch this namespace), so the
    // object stays in its terminating state long enough to be read.
    await createGrant(unwatched, 'deleting', grantSpec());
    await kubectl('admin', [
      'patch',
      'debuggrants.debuggrant.dev',
      'deleting',
      '-n',
      unwatched,
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":["example.com/hold"]}}',
    ]);
    await kubectl('admin', ['delete', 'debuggrants.debuggrant.dev', 'deleting', '-n', unwatched, '--wait=false']);
    const v = await verdicts(unwatched, 'deleting', 'terminating');
    expect({ argocd: v.argocd.status, kstatus: v.kstatus.status }).toEqual({ argocd: 'Progressing', kstatus: 'Terminating' });
    expect(v.argocd.message).toBe('Being deleted: the operator is revoking its access');
    await kubectl('admin', ['patch', 'debuggrants.debuggrant.dev', 'deleting', '-n', unwatched, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  });

  test("the shipped health_test.yaml passes against the committed testdata (Argo CD's own test layout)", async () => {
    const r = await runGitopsCheck(['test', ARGOCD_CUSTOMIZATIONS]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^\d+ passed, 0 failed$/m);
    expect(r.code).toBe(0);
  });
});
