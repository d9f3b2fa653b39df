// Debug containers carry the grant's deadline: the MutatingAdmissionPolicy
// (config/admission/session-deadline.yaml) wraps each new ephemeral container's command inside
// the API server, whatever sends it, and the validating policy refuses a container whose
// command does not start with that wrapper or that cannot be bounded. Decided by the real API
// server, as the subject; alice and bob hold standing RBAC to patch ephemeral containers here,
// so every refusal is the policies'.
import type * as k8s from '@kubernetes/client-node';
import { clientsFor, eventually, freshNamespace, kubectl, rejection } from '../support/cluster.ts';
import { bindRole, debugContainer, sendEphemeral, standingDebugRbac, subjects, type RequestShape } from '../support/debug-containers.ts';
import { createGrant, getGrant, grantSpec, isReady } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { renderAdmissionPolicies } from '../../src/admission/render.ts';
import { DEBUG_IMAGE, EXEMPT, NO_DEFAULT_IMAGE_PREFIX, SHELLLESS_IMAGE_PREFIX, TEST_POLICY } from '../support/policy.ts';
import { execWrapper, sessionWrapper } from '../support/session-wrapper.ts';

const SHELLLESS_IMAGE = `${SHELLLESS_IMAGE_PREFIX}static@sha256:${'d'.repeat(64)}`;
const NO_DEFAULT_IMAGE = `${NO_DEFAULT_IMAGE_PREFIX}tool@sha256:${'e'.repeat(64)}`;

async function pod(namespace: string, name: string, labels: Record<string, string>): Promise<void> {
  await clientsFor('admin').core.createNamespacedPod({
    namespace,
    body: { metadata: { name, labels }, spec: { containers: [{ name: 'app', image: DEBUG_IMAGE }] } },
  });
}

/** The deadline D and the cap N the wrapper carries (checked against the whole wrapper), and the command it wraps. */
function wrapperOf(c: k8s.V1EphemeralContainer | undefined): { deadline: number; cap: number; wrapped: string[] } {
  const cmd = c?.command ?? [];
  const m = /t=\$\(\((\d+) - /.exec(cmd[2] ?? '');
  const deadline = Number(m?.[1]);
  const cap = Number(/-le (-?\d+) \]/.exec(cmd[2] ?? '')?.[1]);
  expect(cmd.slice(0, 4)).toEqual(sessionWrapper(deadline, cap));
  return { deadline, cap, wrapped: cmd.slice(4) };
}

/** The Status message of a refused request (403 from a policy with reason Forbidden). */
async function refused(p: Promise<unknown>): Promise<string> {
  const r = await rejection(p);
  expect(r.code).toBe(403);
  return (JSON.parse(r.message) as { message?: string }).message ?? r.message;
}

const containerOf = (p: k8s.V1Pod, name: string): k8s.V1EphemeralContainer | undefined => p.spec?.ephemeralContainers?.find((c) => c.name === name);
const readPod = (namespace: string, name: string): Promise<k8s.V1Pod> => clientsFor('admin').core.readNamespacedPod({ namespace, name });

let seq = 0;
const next = (): string => `dbg-${String(seq++)}`;

describe("debug containers carry the grant's deadline (admission)", () => {
  let ns: string;
  let op: TestOperator;
  let deadline: number;

  beforeAll(async () => {
    ns = await freshNamespace('sessions');
    for (const n of ['web-1', 'web-2', 'web-3']) await pod(ns, n, { app: 'web' });
    await pod(ns, 'tools-1', { app: 'tools' });
    await pod(ns, 'static-1', { app: 'static' });
    await standingDebugRbac(ns, subjects('alice', 'bob', 'group:debuggrant:break-glass'));
    op = await startTestOperator([ns]);
    await createGrant(ns, 'alice-web', grantSpec({ podSelector: { matchLabels: { app: 'web' } } }));
    await createGrant(ns, 'alice-tools', grantSpec({ image: NO_DEFAULT_IMAGE, podSelector: { matchLabels: { app: 'tools' } } }));
    await createGrant(ns, 'alice-static', grantSpec({ image: SHELLLESS_IMAGE, podSelector: { matchLabels: { app: 'static' } } }));
    for (const g of ['alice-web', 'alice-tools', 'alice-static']) await eventually(() => getGrant(ns, g), isReady);
    deadline = Math.floor(Date.parse((await getGrant(ns, 'alice-web'))?.status?.expiresAt ?? '') / 1000);
  });
  afterAll(async () => {
    await op.stop();
  });

  test.each<RequestShape>(['strategic', 'merge', 'json', 'put', 'apply'])(
    "a raw %s request: the command runs under the wrapper with the grant's deadline",
    async (shape) => {
      const name = next();
      const before = Math.floor(Date.now() / 1000);
      await sendEphemeral({
        as: 'alice',
        namespace: ns,
        pod: 'web-1',
        shape,
        container: debugContainer(name, DEBUG_IMAGE, 'restricted', { command: ['tcpdump', '-i', 'any'], args: ['port', '80'] }),
      });
      const after = Math.ceil(Date.now() / 1000);
      const c = containerOf(await readPod(ns, 'web-1'), name);
      const w = wrapperOf(c);
      expect(w.deadline).toBe(deadline);
      // N = D - the API server's second of this request.
      expect(w.cap).toBeGreaterThanOrEqual(deadline - after);
      expect(w.cap).toBeLessThanOrEqual(deadline - before + 1);
      expect(w.wrapped).toEqual(['tcpdump', '-i', 'any']);
      // args stay: the container runs sh -c SCRIPT debuggrant-deadline tcpdump -i any port 80.
      expect(c?.args).toEqual(['port', '80']);
    },
  );

  test("no command: the image's configured default command (sh) runs under the wrapper", async () => {
    const name = next();
    await sendEphemeral({ as: 'alice', namespace: ns, pod: 'web-2', shape: 'strategic', container: debugContainer(name, DEBUG_IMAGE, 'restricted') });
    expect(wrapperOf(containerOf(await readPod(ns, 'web-2'), name)).wrapped).toEqual(['sh']);
  });

  test('real kubectl debug, with and without a command', async () => {
    const plain = await kubectl('alice', ['-n', ns, 'debug', 'web-3', `--image=${DEBUG_IMAGE}`, '--profile=restricted', '--container=kd-plain']);
    expect(plain.stderr).not.toMatch(/denied|forbidden/i);
    const given = await kubectl('alice', [
      '-n',
      ns,
      'debug',
      'web-3',
      `--image=${DEBUG_IMAGE}`,
      '--profile=restricted',
      '--container=kd-cmd',
      '--',
      'sleep',
      '5',
    ]);
    expect(given.stderr).not.toMatch(/denied|forbidden/i);
    const p = await readPod(ns, 'web-3');
    expect(wrapperOf(containerOf(p, 'kd-plain')).wrapped).toEqual(['sh']);
    expect(wrapperOf(containerOf(p, 'kd-cmd')).wrapped).toEqual(['sleep', '5']);
  });

  test('args without a command (the unseen entrypoint) are refused with the command to type instead; nothing is added', async () => {
    const err = await refused(
      sendEphemeral({
        as: 'alice',
        namespace: ns,
        pod: 'web-2',
        shape: 'strategic',
        container: debugContainer('args-only', DEBUG_IMAGE, 'restricted', { args: ['ip', 'addr'] }),
      }),
    );
    expect(err).toContain('gives args but no command');
    expect(err).toContain(`kubectl debug -it -n ${ns} web-2 --image=${DEBUG_IMAGE} --profile=restricted -- ip addr`);
    expect(containerOf(await readPod(ns, 'web-2'), 'args-only')).toBeUndefined();
  });

  test('an image with no default command configured: a container without a command is refused, one with a command is wrapped', async () => {
    const err = await refused(
      sendEphemeral({ as: 'alice', namespace: ns, pod: 'tools-1', shape: 'strategic', container: debugContainer('bare', NO_DEFAULT_IMAGE, 'restricted') }),
    );
    expect(err).toContain('names no command and no default command is configured');
    expect(err).toContain(`kubectl debug -it -n ${ns} tools-1 --image=${NO_DEFAULT_IMAGE} --profile=restricted -- sh`);
    expect(containerOf(await readPod(ns, 'tools-1'), 'bare')).toBeUndefined();
    await sendEphemeral({
      as: 'alice',
      namespace: ns,
      pod: 'tools-1',
      shape: 'strategic',
      container: debugContainer('given', NO_DEFAULT_IMAGE, 'restricted', { command: ['sh'] }),
    });
    expect(wrapperOf(containerOf(await readPod(ns, 'tools-1'), 'given')).wrapped).toEqual(['sh']);
  });

  test('an image configured as having no sh/date/timeout is refused, with or without a command; nothing is added', async () => {
    const cases: [string, Partial<k8s.V1EphemeralContainer>][] = [
      ['static-bare', {}],
      ['static-cmd', { command: ['/busybox/sh'] }],
    ];
    for (const [name, extra] of cases) {
      const err = await refused(
        sendEphemeral({
          as: 'alice',
          namespace: ns,
          pod: 'static-1',
          shape: 'strategic',
          container: debugContainer(name, SHELLLESS_IMAGE, 'restricted', extra),
        }),
      );
      expect(err).toContain(`image ${SHELLLESS_IMAGE} has no sh, date and timeout`);
    }
    expect((await readPod(ns, 'static-1')).spec?.ephemeralContainers ?? []).toEqual([]);
  });

  test('the grant says whether its sessions end by the deadline: status condition and kubectl get dg -o wide', async () => {
    await createGrant(ns, 'alice-streams', grantSpec({ access: ['exec', 'portForward', 'logs'], podSelector: { matchLabels: { app: 'web' } } }));
    const streams = await eventually(() => getGrant(ns, 'alice-streams'), isReady);
    const condition = (g: typeof streams) => g?.status?.conditions?.find((c) => c.type === 'SessionsBounded');
    expect(condition(await getGrant(ns, 'alice-web'))).toMatchObject({ status: 'True', reason: 'DeadlineInCommand' });
    expect(condition(streams)).toMatchObject({ status: 'False', reason: 'UnboundedStreams' });
    expect(condition(streams)?.message).toContain('port-forward, logs -f');
    const wide = await kubectl('alice', ['-n', ns, 'get', 'dg', '-o', 'wide']);
    const rows = wide.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/));
    // The last wide column (the reasons before it hold spaces).
    expect(rows[0]?.at(-1)).toBe('BOUNDED');
    expect(Object.fromEntries(rows.slice(1).map((r) => [r[0], r.at(-1)]))).toMatchObject({ 'alice-web': 'True', 'alice-streams': 'False' });
  });

  test('break-glass containers are left as sent (no grant, no deadline)', async () => {
    const name = next();
    await sendEphemeral({
      as: { user: 'oncall', groups: ['debuggrant:break-glass'] },
      namespace: ns,
      pod: 'web-2',
      shape: 'strategic',
      container: debugContainer(name, DEBUG_IMAGE, 'baseline', { command: ['sleep', '1'] }),
    });
    expect(containerOf(await readPod(ns, 'web-2'), name)?.command).toEqual(['sleep', '1']);
  });

  test("a grant of the subject's that gives no debug (logs, ending sooner) neither refuses nor cuts the debug container her debug grant allows", async () => {
    await createGrant(ns, 'alice-web-logs', grantSpec({ access: ['logs'], ttl: '10m', podSelector: { matchLabels: { app: 'web' } } }));
    await eventually(() => getGrant(ns, 'alice-web-logs'), isReady);
    const name = next();
    // Before: the mutation took the logs grant's earlier deadline, the validating policy (which
    // counts grants giving debug only) wanted the debug grant's, and refused the container.
    await sendEphemeral({ as: 'alice', namespace: ns, pod: 'web-3', shape: 'strategic', container: debugContainer(name, DEBUG_IMAGE, 'restricted') });
    expect(wrapperOf(containerOf(await readPod(ns, 'web-3'), name)).deadline).toBe(deadline);
  });
});

describe('the validating policy alone refuses what the mutation did not wrap', () => {
  // A namespace outside the shipped bindings, with a copy of the validating policy bound to it
  // alone: what a request that bypassed or raced the mutation meets.
  let ns: string;
  let op: TestOperator;
  const policyName = (): string => `dg-test-validating-only-${ns}`;

  beforeAll(async () => {
    ns = await freshNamespace('sessions-vonly', EXEMPT);
    await pod(ns, 'web-1', { app: 'web' });
    await standingDebugRbac(ns, subjects('alice'));
    op = await startTestOperator([ns]);
    await createGrant(ns, 'alice-web', grantSpec({ podSelector: { matchLabels: { app: 'web' } } }));
    await eventually(() => getGrant(ns, 'alice-web'), isReady);
    const validating = renderAdmissionPolicies(TEST_POLICY).find(
      (d) => d.kind === 'ValidatingAdmissionPolicy' && (d as { metadata?: { name?: string } }).metadata?.name === 'debuggrant-ephemeral-containers',
    ) as k8s.V1ValidatingAdmissionPolicy;
    const admission = clientsFor('admin').admissionReg;
    await admission.createValidatingAdmissionPolicy({ body: { ...validating, metadata: { name: policyName() } } });
    await admission.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name: policyName() },
        spec: {
          policyName: policyName(),
          validationActions: ['Deny'],
          paramRef: { name: 'grants', parameterNotFoundAction: 'Deny' },
          matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } },
        },
      },
    });
    // Bound once a plain container is refused (the API server loads bindings asynchronously).
    // (a probe admitted before that is harmless: the test below names its own containers).
    let probes = 0;
    await eventually(
      () =>
        rejection(
          sendEphemeral({
            as: 'alice',
            namespace: ns,
            pod: 'web-1',
            shape: 'strategic',
            container: debugContainer(`probe-${String(probes++)}`, DEBUG_IMAGE, 'restricted', { command: ['sh'] }),
          }),
        ).catch(() => ({ code: 0, message: '' })),
      (r) => r.message.includes('does not start with the wrapper'),
      30_000,
      250,
    );
  });
  afterAll(async () => {
    const admission = clientsFor('admin').admissionReg;
    await admission.deleteValidatingAdmissionPolicyBinding({ name: policyName() });
    await admission.deleteValidatingAdmissionPolicy({ name: policyName() });
    await op.stop();
  });

  test('an unwrapped command, or a wrapper with a later deadline, is refused; the exact wrapper passes', async () => {
    const expiresAt = (await getGrant(ns, 'alice-web'))?.status?.expiresAt ?? '';
    const deadline = Math.floor(Date.parse(expiresAt) / 1000);
    const send = (name: string, command: string[]) =>
      sendEphemeral({ as: 'alice', namespace: ns, pod: 'web-1', shape: 'strategic', container: debugContainer(name, DEBUG_IMAGE, 'restricted', { command }) });
    const bare = await refused(send('bare', ['sh']));
    expect(bare).toContain('the command of debug container bare does not start with the wrapper');
    expect(bare).toContain('MutatingAdmissionPolicy debuggrant-session-deadline');
    const now = Math.floor(Date.now() / 1000);
    expect(await refused(send('later', [...sessionWrapper(deadline + 3600, deadline + 3600 - now), 'sh']))).toContain('does not start with the wrapper');
    // The exact wrapper depends on the API server's second of the request: try a few seconds.
    let admitted = false;
    for (let i = 0; i < 3 && !admitted; i++) {
      const second = Math.floor(Date.now() / 1000);
      admitted = await send(`exact-${String(i)}`, [...sessionWrapper(deadline, deadline - second), 'sh']).then(
        () => true,
        () => false,
      );
    }
    expect(admitted).toBe(true);
    const names = (await readPod(ns, 'web-1')).spec?.ephemeralContainers?.map((c) => c.name) ?? [];
    expect(names.filter((n) => n === 'bare' || n === 'later')).toEqual([]);
  });
});

describe("exec commands carry the grant's deadline (CONNECT admission)", () => {
  // No node here: an exec that passes admission fails only when the API server looks for the
  // pod's node. In `probed`, a test-only policy refuses every exec after the shipped ones and
  // names the command the API server would run.
  let ns: string;
  let probed: string;
  let validatingOnly: string;
  let op: TestOperator;
  const admission = () => clientsFor('admin').admissionReg;
  const created: { policy: string }[] = [];

  async function bindToNamespace(name: string, policy: k8s.V1ValidatingAdmissionPolicy, namespace: string, paramRef?: k8s.V1ParamRef): Promise<void> {
    await admission().createValidatingAdmissionPolicy({ body: { ...policy, metadata: { name } } });
    await admission().createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name },
        spec: {
          policyName: name,
          validationActions: ['Deny'],
          ...(paramRef ? { paramRef } : {}),
          matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } },
        },
      },
    });
    created.push({ policy: name });
  }

  const exec = (user: 'alice' | 'bob' | 'admin', namespace: string, command: string[]) =>
    kubectl(user, [
      'get',
      '--raw',
      `/api/v1/namespaces/${namespace}/pods/exec-1/exec?${command.map((c) => `command=${encodeURIComponent(c)}`).join('&')}&stdout=true&container=app`,
    ]);
  /** The command the probe policy saw, split back into arguments. */
  const seen = (stderr: string): string[] | undefined => {
    const m = /probe saw: (\[.*\])/.exec(stderr);
    return m?.[1] ? (JSON.parse(m[1]) as string[]) : undefined;
  };

  beforeAll(async () => {
    ns = await freshNamespace('exec');
    probed = await freshNamespace('exec-probed');
    validatingOnly = await freshNamespace('exec-vonly', EXEMPT);
    for (const n of [ns, probed, validatingOnly]) {
      await pod(n, 'exec-1', { app: 'api' });
      await bindRole(
        n,
        'standing-exec',
        [{ apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['get', 'create'] }],
        subjects('bob', 'group:debuggrant:break-glass'),
      );
    }
    op = await startTestOperator([ns, probed, validatingOnly]);
    for (const n of [ns, probed, validatingOnly])
      await createGrant(n, 'alice-exec', grantSpec({ access: ['exec'], podSelector: { matchLabels: { app: 'api' } } }));
    for (const n of [ns, probed, validatingOnly]) await eventually(() => getGrant(n, 'alice-exec'), isReady);
    await bindToNamespace(
      `dg-test-exec-probe-${probed}`,
      {
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CONNECT'], resources: ['pods/exec'] }] },
          validations: [
            {
              expression: 'false',
              messageExpression: "'probe saw: [' + object.command.map(c, '\"' + c.replace('\\\\', '\\\\\\\\').replace('\"', '\\\\\"') + '\"').join(', ') + ']'",
            },
          ],
        },
      },
      probed,
    );
    const shipped = renderAdmissionPolicies(TEST_POLICY).find(
      (d) => d.kind === 'ValidatingAdmissionPolicy' && (d as { metadata?: { name?: string } }).metadata?.name === 'debuggrant-exec-deadline',
    ) as k8s.V1ValidatingAdmissionPolicy;
    await bindToNamespace(`dg-test-exec-vonly-${validatingOnly}`, shipped, validatingOnly, { name: 'grants', parameterNotFoundAction: 'Allow' });
    await eventually(
      () => exec('bob', probed, ['true']),
      (r) => r.stderr.includes('probe saw'),
      30_000,
      250,
    );
    await eventually(
      () => exec('alice', validatingOnly, ['true']),
      (r) => r.stderr.includes('must run under the wrapper'),
      30_000,
      250,
    );
  });
  afterAll(async () => {
    for (const { policy } of created) {
      await admission().deleteValidatingAdmissionPolicyBinding({ name: policy });
      await admission().deleteValidatingAdmissionPolicy({ name: policy });
    }
    await op.stop();
  });

  test("a grantee's exec runs under the wrapper with the grant's deadline; others' as sent", async () => {
    const deadline = Math.floor(Date.parse((await getGrant(probed, 'alice-exec'))?.status?.expiresAt ?? '') / 1000);
    expect(seen((await exec('alice', probed, ['sh', '-c', 'echo "a b"'])).stderr)).toEqual([...execWrapper(deadline), 'sh', '-c', 'echo "a b"']);
    expect(seen((await exec('bob', probed, ['ls'])).stderr)).toEqual(['ls']);
  });

  test("with the mutation, admission lets the grantee's exec through (it then fails only for want of a node)", async () => {
    const out = await exec('alice', ns, ['true']);
    expect(out.stderr).not.toMatch(/forbidden|denied/i);
    expect(out.stderr).toMatch(/host|node/i);
  });

  test('the validating policy alone refuses an unwrapped or later-deadline exec, and passes the exact wrapper', async () => {
    const deadline = Math.floor(Date.parse((await getGrant(validatingOnly, 'alice-exec'))?.status?.expiresAt ?? '') / 1000);
    const bare = await exec('alice', validatingOnly, ['sh']);
    expect(bare.stderr).toContain(`exec into pod ${validatingOnly}/exec-1 under DebugGrant ${validatingOnly}/alice-exec must run under the wrapper`);
    expect((await exec('alice', validatingOnly, [...execWrapper(deadline + 3600), 'sh'])).stderr).toContain('must run under the wrapper');
    const exact = await exec('alice', validatingOnly, [...execWrapper(deadline), 'sh']);
    expect(exact.stderr).not.toMatch(/forbidden|denied/i);
    // Someone without a grant on the pod, and break-glass members, are not asked for it.
    expect((await exec('bob', validatingOnly, ['sh'])).stderr).not.toMatch(/forbidden|denied/i);
  });

  test("a grant of the subject's that gives no exec (logs, ending sooner) does not cut the exec its exec grant allows", async () => {
    await createGrant(probed, 'alice-logs', grantSpec({ access: ['logs'], ttl: '10m', podSelector: { matchLabels: { app: 'api' } } }));
    await eventually(() => getGrant(probed, 'alice-logs'), isReady);
    const execUntil = Math.floor(Date.parse((await getGrant(probed, 'alice-exec'))?.status?.expiresAt ?? '') / 1000);
    // Before: the wrapper took the earliest deadline of all her grants on the pod, the logs
    // grant's (and, that one past with no operator to drop its entry, exited at once).
    expect(seen((await exec('alice', probed, ['sh'])).stderr)).toEqual([...execWrapper(execUntil), 'sh']);
  });
});
