// Sessions open at a grant's deadline, on the real node: debug and exec shells opened before it
// end by it, with the operator running and with it stopped before the deadline (the admission
// policies put the deadline into the container's or the exec's command), a debug container
// sharing the target's process namespace takes its background jobs with it, an exec shell's
// background job stays (measured); `kubectl debuggrant debug` ends on time too; a grantee who defeats
// the wrapper from inside (SIGSTOP of its timeout) is caught by the operator's backstop.
import { fileURLToPath } from 'node:url';
import { clientsFor, eventually, freshNamespace, kubectl, plane } from '../support/cluster.ts';
import { getGrant } from '../support/grants.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { activeGrant, describeOnNode, runningPod, session, testNode } from '../support/node.ts';
import { exitedBy, tickingShell, type ShellKind } from '../support/sessions.ts';

/** Each test waits out a real ttl (20 s) after pods start on a shared, loaded machine. */
const SLOW = 150_000;
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

describeOnNode("sessions at a grant's deadline, on a real node", () => {
  let ns: string;
  let op: TestOperator;
  let seq = 0;

  beforeAll(async () => {
    ns = await freshNamespace('sessions');
    op = await startTestOperator([ns]);
  });
  afterAll(async () => {
    await op.stop();
  });

  const cases: [ShellKind, 'running' | 'stopped before the deadline'][] = [
    ['debug', 'running'],
    ['debug', 'stopped before the deadline'],
    ['exec', 'running'],
    ['exec', 'stopped before the deadline'],
  ];
  test.each(cases)(
    'a %s shell opened before the deadline ends by it, operator %s',
    async (kind, operator) => {
      const app = `${kind}-${String(seq++)}`;
      // Its own namespace when the operator goes away, so the other tests keep theirs.
      const where = operator === 'running' ? ns : await freshNamespace('sessions-down');
      const own = operator === 'running' ? undefined : await startTestOperator([where]);
      await runningPod(where, `${app}-1`, { app });
      const { expiresAt } = await activeGrant(where, app, { app }, { ttl: '20s', access: [kind] });
      const shell = await tickingShell(kind, 'alice', where, `${app}-1`, { image: testNode().images.debugNonRoot.ref, container: 'dbg' });
      try {
        if (own) {
          await own.stop();
          expect(Date.now()).toBeLessThan(expiresAt);
        }
        const exitedAt = await exitedBy(shell, expiresAt + 15_000);
        const lastTick = (shell.lastTickAt() ?? Number.NaN) - expiresAt;
        process.stderr.write(
          `[measure] ${kind} shell, operator ${operator}: last output ${String(lastTick)} ms, kubectl exited ${String(exitedAt - expiresAt)} ms after the deadline\n`,
        );
        expect(lastTick).toBeLessThanOrEqual(2_000);
        expect(exitedAt - expiresAt).toBeLessThanOrEqual(5_000);
      } finally {
        await shell.session.stop();
      }
      if (kind === 'debug') {
        // The container itself ended (killed by its wrapper), not just kubectl's connection.
        const pod = await eventually(
          () => clientsFor('admin').core.readNamespacedPod({ namespace: where, name: `${app}-1` }),
          (p) => p.status?.ephemeralContainerStatuses?.find((s) => s.name === 'dbg')?.state?.terminated !== undefined,
          30_000,
          250,
        );
        expect(pod.status?.ephemeralContainerStatuses?.find((s) => s.name === 'dbg')?.state?.terminated?.exitCode).toBe(137);
        // A session that ended by its deadline is a normal end: nothing lingered, no Warning.
        const g = await getGrant(where, app);
        expect(g?.status?.lingering ?? []).toEqual([]);
        expect(g?.status?.conditions?.find((c) => c.type === 'Stalled')?.status).toBe('False');
        const warnings = (await clientsFor('admin').core.listNamespacedEvent({ namespace: where })).items
          .filter((e) => e.type === 'Warning' && (e.involvedObject.name === app || e.involvedObject.name === `${app}-1`))
          .map((e) => e.reason);
        expect(warnings.filter((r) => r === 'LingeringEphemeralContainer' || r === 'DebugContainerPastDeadline')).toEqual([]);
      }
    },
    SLOW,
  );

  test(
    "a debug shell sharing the target's process namespace (--target) ends by the deadline, and what it left in the background with it",
    async () => {
      await runningPod(ns, 'shared-1', { app: 'shared' });
      const { expiresAt } = await activeGrant(ns, 'shared', { app: 'shared' }, { ttl: '20s' });
      const shell = await tickingShell('debug', 'alice', ns, 'shared-1', {
        image: testNode().images.debugNonRoot.ref,
        container: 'dbg',
        target: 'app',
        before: 'sleep 7777 &',
      });
      try {
        const exitedAt = await exitedBy(shell, expiresAt + 15_000);
        process.stderr.write(
          `[measure] debug shell with --target: last output ${String((shell.lastTickAt() ?? Number.NaN) - expiresAt)} ms, kubectl exited ${String(exitedAt - expiresAt)} ms after the deadline\n`,
        );
        expect((shell.lastTickAt() ?? Number.NaN) - expiresAt).toBeLessThanOrEqual(2_000);
      } finally {
        await shell.session.stop();
      }
      await eventually(
        () => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'shared-1' }),
        (p) => p.status?.ephemeralContainerStatuses?.find((s) => s.name === 'dbg')?.state?.terminated !== undefined,
        30_000,
        250,
      );
      // The app container shares the PID namespace: the background sleep is gone with the debug container.
      const ps = await kubectl('admin', ['-n', ns, 'exec', 'shared-1', '-c', 'app', '--', 'ps', '-o', 'pid,args']);
      expect(ps.stdout).toContain('sleep inf');
      expect(ps.stdout).not.toContain('sleep 7777');
    },
    SLOW,
  );

  test(
    "an exec shell that left a job in the background ends by the deadline; the job is the app container's own process (measured)",
    async () => {
      await runningPod(ns, 'bg-1', { app: 'bg' });
      const { expiresAt } = await activeGrant(ns, 'bg', { app: 'bg' }, { ttl: '20s', access: ['exec'] });
      const shell = await tickingShell('exec', 'alice', ns, 'bg-1', { image: '', container: '', before: 'sleep 7777 &' });
      try {
        const exitedAt = await exitedBy(shell, expiresAt + 15_000);
        process.stderr.write(
          `[measure] exec shell with a background job: last output ${String((shell.lastTickAt() ?? Number.NaN) - expiresAt)} ms, kubectl exited ${String(exitedAt - expiresAt)} ms after the deadline\n`,
        );
        expect((shell.lastTickAt() ?? Number.NaN) - expiresAt).toBeLessThanOrEqual(2_000);
        expect(exitedAt - expiresAt).toBeLessThanOrEqual(5_000);
      } finally {
        await shell.session.stop();
      }
      const ps = await kubectl('admin', ['-n', ns, 'exec', 'bg-1', '-c', 'app', '--', 'ps', '-o', 'pid,args']);
      process.stderr.write(`[measure] after the deadline the app container runs: ${ps.stdout.replace(/\s+/g, ' ')}\n`);
      // The wrapper ends the exec'd command and its stream; a job it sent to the background is a
      // process of the app container like any other and runs on (README "Sessions and the deadline").
      expect(ps.stdout).toContain('sleep 7777');
    },
    SLOW,
  );

  test(
    'a grantee who stops the deadline watcher from inside keeps a shell past the deadline: the operator says so on the pod and records it on the grant',
    async () => {
      await runningPod(ns, 'stopper-1', { app: 'stopper' });
      const { expiresAt } = await activeGrant(ns, 'stopper', { app: 'stopper' }, { ttl: '20s' });
      // The wrapper's `timeout` runs as the grantee's own uid in the container's PID namespace:
      // SIGSTOP it and its kill never comes (README "Sessions and the deadline").
      const stopWatcher = `for p in /proc/[0-9]*; do case "$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)" in timeout*) kill -STOP \${p#/proc/};; esac; done`;
      const shell = await tickingShell('debug', 'alice', ns, 'stopper-1', { image: testNode().images.debugNonRoot.ref, container: 'dbg', before: stopWatcher });
      try {
        // Past the deadline it still prints: the wrapper was defeated.
        await eventually(
          () => Promise.resolve(shell.lastTickAt() ?? 0),
          (t) => t > expiresAt + 3_000,
          expiresAt + 20_000 - Date.now(),
          250,
        );
        // The operator's backstop: a Warning Event on the pod, the container lingering on the grant.
        const warned = await eventually(
          async () => (await clientsFor('admin').core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=stopper-1' })).items,
          (items) => items.some((e) => e.reason === 'DebugContainerPastDeadline'),
          30_000,
          250,
        );
        const g = await eventually(
          () => getGrant(ns, 'stopper'),
          (x) => (x?.status?.lingering ?? []).some((l) => l.container === 'dbg'),
          30_000,
          250,
        );
        const past = warned.find((e) => e.reason === 'DebugContainerPastDeadline');
        const at = new Date(past?.firstTimestamp ?? past?.eventTime ?? Number.NaN).getTime();
        process.stderr.write(`[measure] wrapper defeated: DebugContainerPastDeadline ${String(at - expiresAt)} ms after the deadline\n`);
        expect(g?.status?.lingering).toEqual([{ pod: 'stopper-1', container: 'dbg', image: testNode().images.debugNonRoot.ref }]);
        expect(g?.status?.conditions?.find((c) => c.type === 'Stalled')?.status).toBe('True');
      } finally {
        await shell.session.stop();
      }
    },
    SLOW,
  );

  test(
    "kubectl debuggrant debug: the session ends within 2 s of the grant's deadline",
    async () => {
      await runningPod(ns, 'pay-1', { app: 'pay' });
      const { expiresAt } = await activeGrant(ns, 'wrapped', { app: 'pay' }, { ttl: '20s' });
      const p = plane();
      // `kubectl debuggrant` from source, in a pseudo-terminal as a person runs it (attached, -it).
      const debugging = session(
        [
          process.execPath,
          CLI,
          'debug',
          'pay-1',
          '-n',
          ns,
          '--kubeconfig',
          p.kubeconfig,
          '--context',
          'alice',
          '--kubectl',
          p.kubectl,
          '--',
          '--container=wrapped',
          '--',
          'sh',
          '-c',
          'while true; do echo alive; sleep 1; done',
        ],
        { tty: true },
      );
      let endedAt: number;
      try {
        await debugging.waitFor('alive');
        endedAt = await debugging.exited.then(() => Date.now());
      } finally {
        await debugging.stop();
      }
      process.stderr.write(`[measure] debug session ended ${String(endedAt - expiresAt)} ms after the grant's deadline\n`);
      expect(Math.abs(endedAt - expiresAt)).toBeLessThanOrEqual(2_000);
      const pod = await eventually(
        () => clientsFor('admin').core.readNamespacedPod({ namespace: ns, name: 'pay-1' }),
        (p) => p.status?.ephemeralContainerStatuses?.find((s) => s.name === 'wrapped')?.state?.terminated !== undefined,
        30_000,
        250,
      );
      expect(pod.status?.ephemeralContainerStatuses?.find((s) => s.name === 'wrapped')?.state?.terminated?.exitCode).toBe(137);
    },
    SLOW,
  );
});
