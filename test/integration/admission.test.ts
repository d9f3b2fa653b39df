// The admission policies decide inside the API server, as the subject: the good ephemeral
// containers (including real `kubectl debug`) pass, kubectl debug with a wider profile is
// refused, and DebugGrant creation is gated. The catalogue of bad ephemeral containers is
// admission-catalogue.test.ts. Alice and bob hold standing RBAC to patch any pod's
// ephemeral containers here, so every refusal below is the policy's, not RBAC's.
import type * as k8s from '@kubernetes/client-node';
import { INDEX_NAME, INDEX_PLURAL } from '../../src/api/names.ts';
import { GROUP, VERSION, type Profile } from '../../src/api/schema.ts';
import type { LocalUserName } from '../../hack/controlplane/users.ts';
import { canI, clientsFor, eventually, freshNamespace, kubectl, rejection } from '../support/cluster.ts';
import { addEphemeralContainer, debugContainer, standingDebugRbac, subjects } from '../support/debug-containers.ts';
import { NET_IMAGE, OTHER_IMAGE, SYS_IMAGE } from '../support/ephemeral-catalogue.ts';
import { createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { DEBUG_IMAGE, startTestOperator, type TestOperator } from '../support/operator.ts';

async function pod(namespace: string, name: string, labels: Record<string, string>, spec: Partial<k8s.V1PodSpec> = {}): Promise<void> {
  await clientsFor('admin').core.createNamespacedPod({
    namespace,
    body: { metadata: { name, labels }, spec: { containers: [{ name: 'app', image: DEBUG_IMAGE }], ...spec } },
  });
}

/** The message of a Status body, as kubectl prints it. */
const statusMessage = (body: string): string => (JSON.parse(body) as { message?: string }).message ?? body;

let seq = 0;
const name = (): string => `dbg-${String(seq++)}`;

describe('admission policies', () => {
  let ns: string;
  let ns2: string;
  let op: TestOperator;
  beforeAll(async () => {
    ns = await freshNamespace('adm');
    ns2 = await freshNamespace('adm2');
    await pod(ns, 'web-1', { app: 'web' });
    await pod(ns, 'web-2', { app: 'web' }, { volumes: [{ name: 'data', emptyDir: {} }] });
    await pod(ns, 'other-1', { app: 'other' });
    await pod(ns, 'host-1', { app: 'web', hostdbg: 'yes' }, { hostPID: true, volumes: [{ name: 'data', emptyDir: {} }] });
    await pod(ns, 'temp-1', { app: 'temp' });
    await pod(ns, 'lone-1', { app: 'lone' });
    await pod(ns, 'gen-1', { app: 'gen' });
    await pod(ns2, 'web-1', { app: 'web' });
    await pod(ns2, 'bobs-1', { app: 'bobs' });
    await standingDebugRbac(ns, subjects('alice', 'bob'));
    await standingDebugRbac(ns2, subjects('alice', 'bob'));
    op = await startTestOperator([ns, ns2], { allowedProfiles: ['general', 'baseline', 'restricted', 'netadmin', 'sysadmin'] });
    await createGrant(ns, 'alice-web', grantSpec({ podSelector: { matchLabels: { app: 'web' } } }));
    await createGrant(
      ns,
      'engineers-net',
      grantSpec({ subject: { kind: 'Group', name: 'engineers' }, image: NET_IMAGE, profile: 'netadmin', podSelector: { matchLabels: { app: 'other' } } }),
    );
    await createGrant(
      ns,
      'carol-host',
      grantSpec({ subject: { kind: 'User', name: 'carol' }, image: SYS_IMAGE, profile: 'sysadmin', podSelector: { matchLabels: { hostdbg: 'yes' } } }),
    );
    await createGrant(ns, 'alice-general', grantSpec({ image: SYS_IMAGE, profile: 'general', podSelector: { matchLabels: { app: 'gen' } } }));
    await createGrant(ns2, 'bob-bobs', grantSpec({ subject: { kind: 'User', name: 'bob' }, podSelector: { matchLabels: { app: 'bobs' } } }));
    for (const [n, g] of [
      [ns, 'alice-web'],
      [ns, 'engineers-net'],
      [ns, 'carol-host'],
      [ns, 'alice-general'],
      [ns2, 'bob-bobs'],
    ] as const) {
      await eventually(() => getGrant(n, g), isReady);
    }
  });
  afterAll(async () => {
    await op.stop();
  });

  describe('allowed as granted', () => {
    test('alice, restricted profile, the granted image, a granted pod', async () => {
      const p = await addEphemeralContainer('alice', ns, 'web-1', debugContainer(name(), DEBUG_IMAGE, 'restricted'));
      expect(p.spec?.ephemeralContainers?.length).toBe(1);
    });

    test('real kubectl debug --profile=restricted as alice', async () => {
      const out = await kubectl('alice', ['-n', ns, 'debug', 'web-2', `--image=${DEBUG_IMAGE}`, '--profile=restricted', '--container=kd-1']);
      expect(out.stderr).not.toMatch(/denied|forbidden/i);
      expect(out.code).toBe(0);
    });

    test('bob through the group grant with the netadmin profile (real kubectl debug)', async () => {
      const out = await kubectl('bob', ['-n', ns, 'debug', 'other-1', `--image=${NET_IMAGE}`, '--profile=netadmin', '--container=kd-2']);
      expect(out.stderr).not.toMatch(/denied|forbidden/i);
      expect(out.code).toBe(0);
    });

    test('real kubectl debug --profile=general under a general grant', async () => {
      const out = await kubectl('alice', ['-n', ns, 'debug', 'gen-1', `--image=${SYS_IMAGE}`, '--profile=general', '--container=kd-3']);
      expect(out.stderr).not.toMatch(/denied|forbidden/i);
      expect(out.code).toBe(0);
    });

    test('carol with the sysadmin profile: privileged, on a hostPID pod, mounting a volume', async () => {
      const container = name();
      const p = await addEphemeralContainer(
        'carol',
        ns,
        'host-1',
        debugContainer(container, SYS_IMAGE, 'sysadmin', { volumeMounts: [{ name: 'data', mountPath: '/data' }] }),
      );
      // Admitted as sent: privileged, with the volume mount (nothing stripped on the way).
      expect(p.spec?.ephemeralContainers?.find((c) => c.name === container)).toMatchObject({
        image: SYS_IMAGE,
        securityContext: { privileged: true },
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
      });
    });

    test('an operator restart does not matter: the API server keeps enforcing while it is down', async () => {
      await op.stop();
      try {
        await addEphemeralContainer('alice', ns, 'web-1', debugContainer(name(), DEBUG_IMAGE, 'restricted'));
        const refused = await rejection(addEphemeralContainer('alice', ns, 'web-1', debugContainer(name(), OTHER_IMAGE, 'restricted')));
        expect(refused.message).toContain('image must be');
      } finally {
        op = await startTestOperator([ns, ns2], { allowedProfiles: ['general', 'baseline', 'restricted', 'netadmin', 'sysadmin'] });
      }
    });
  });

  test('two containers in one patch: the bad one refuses the whole patch', async () => {
    const before = await clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'web-1' });
    const refused = await rejection(
      clientsFor('alice').core.patchNamespacedPodEphemeralcontainers(
        {
          namespace: ns,
          name: 'web-1',
          body: {
            spec: {
              ephemeralContainers: [
                ...(before.spec?.ephemeralContainers ?? []),
                debugContainer('ok-one', DEBUG_IMAGE, 'restricted'),
                debugContainer('bad-one', OTHER_IMAGE, 'restricted'),
              ],
            },
          },
        },
        (await import('../support/cluster.ts')).mergePatch,
      ),
    );
    expect(refused.message).toContain(`not ${OTHER_IMAGE}`);
    const after = await clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'web-1' });
    expect(after.spec?.ephemeralContainers?.length).toBe(before.spec?.ephemeralContainers?.length);
  });

  // kubectl's netadmin and general profiles leave allowPrivilegeEscalation unset, the first thing restricted refuses.
  test.each([
    ['sysadmin', 'privileged'],
    ['netadmin', 'allowPrivilegeEscalation must be false'],
    ['general', 'allowPrivilegeEscalation must be false'],
    ['baseline', 'allowPrivilegeEscalation must be false'],
  ] as [Profile, string][])('real kubectl debug --profile=%s by alice (restricted grant) is refused', async (profile, message) => {
    const out = await kubectl('alice', ['-n', ns, 'debug', 'web-1', `--image=${DEBUG_IMAGE}`, `--profile=${profile}`, `--container=kd-${profile}`]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(message);
  });

  test('an expired grant no longer admits, even with standing RBAC', async () => {
    await createGrant(ns, 'alice-temp', grantSpec({ ttl: '3s', podSelector: { matchLabels: { app: 'temp' } } }));
    await eventually(() => getGrant(ns, 'alice-temp'), isReady);
    await addEphemeralContainer('alice', ns, 'temp-1', debugContainer(name(), DEBUG_IMAGE, 'restricted'));
    await eventually(
      () => getGrant(ns, 'alice-temp'),
      (g) => g?.status?.phase === 'Expired',
    );
    const refused = await rejection(addEphemeralContainer('alice', ns, 'temp-1', debugContainer(name(), DEBUG_IMAGE, 'restricted')));
    expect(refused.message).toContain('no active DebugGrant lets alice');
  });

  test('alice cannot write the index the policy reads, even with rights on pods', async () => {
    for (const verb of ['create', 'update', 'patch', 'delete']) {
      expect(await canI({ user: 'alice', namespace: ns, verb, resource: INDEX_PLURAL, group: GROUP, name: INDEX_NAME })).toBe(false);
    }
    const forged = { apiVersion: `${GROUP}/${VERSION}`, kind: 'DebugGrantIndex', metadata: { name: INDEX_NAME, namespace: ns2 }, active: [] };
    expect((await rejection(clientsFor('alice').objects.create(forged as never))).code).toBe(403);
    expect((await rejection(clientsFor('alice').objects.patch({ ...forged, metadata: { ...forged.metadata, namespace: ns } } as never))).code).toBe(403);
  });

  describe('DebugGrant creation', () => {
    beforeAll(async () => {
      // Give alice the RBAC to create grants, so the policy is what refuses her.
      await clientsFor('admin').rbac.createNamespacedRoleBinding({
        namespace: ns,
        body: {
          metadata: { name: 'alice-creates' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'debuggrant:creator' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
        },
      });
    });

    const refusedCreate: [string, LocalUserName, Record<string, unknown>, string][] = [
      ['alice for herself', 'alice', {}, 'alice may not create DebugGrants: they are created by debuggrant:gitops, debuggrant:approvers'],
      [
        'an approver for herself',
        'carol',
        { subject: { kind: 'User', name: 'carol' } },
        'spec.subject: Forbidden: carol cannot approve a DebugGrant for themselves',
      ],
      [
        'an approver for her own group',
        'carol',
        { subject: { kind: 'Group', name: 'debuggrant:approvers' } },
        'spec.subject: Forbidden: carol cannot approve a DebugGrant for themselves (subject Group debuggrant:approvers)',
      ],
      ['ttl over the maximum', 'gitops', { ttl: '5h' }, 'spec.ttl: Invalid value: "5h": longer than the maximum of 4h'],
      [
        'an unapproved registry',
        'gitops',
        { image: `docker.io/nicolaka/netshoot@sha256:${'c'.repeat(64)}` },
        `spec.image: Invalid value: "docker.io/nicolaka/netshoot@sha256:${'c'.repeat(64)}": not from an approved registry (registry.example.com/debug/, reg.io:5000/dbg/)`,
      ],
      [
        'notAfter already past',
        'gitops',
        { notAfter: '2020-01-01T00:00:00Z' },
        'spec.notAfter: Invalid value: "2020-01-01T00:00:00Z": already past (the API server\'s time is 20',
      ],
    ];
    test.each(refusedCreate)('refused: %s', async (_what, user, over, message) => {
      const grantName = `refused-${String(seq++)}`;
      const refused = await rejection(createGrant(ns, grantName, grantSpec(over), user));
      expect(statusMessage(refused.message)).toContain(message);
      expect(await getGrant(ns, grantName)).toBeUndefined();
    });

    test('a forged creationTimestamp does not make a past notAfter look future: the API server sets it before admission', async () => {
      const refused = await rejection(
        clientsFor('gitops').objects.create({
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'DebugGrant',
          metadata: { name: 'forged-time', namespace: ns, creationTimestamp: new Date('2019-01-01T00:00:00Z') },
          spec: grantSpec({ notAfter: '2020-01-01T00:00:00Z' }),
        } as never),
      );
      expect(statusMessage(refused.message)).toContain('spec.notAfter: Invalid value: "2020-01-01T00:00:00Z": already past (the API server\'s time is 2026');
      expect(await getGrant(ns, 'forged-time')).toBeUndefined();
    });

    test('the gitops identity creates a grant for alice', async () => {
      const g = await createGrant(ns, 'by-gitops', grantSpec({ podSelector: { matchLabels: { app: 'web' } } }), 'gitops');
      expect(g.metadata.uid).toBeDefined();
    });
  });
});
