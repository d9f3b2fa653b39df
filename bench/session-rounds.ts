// The rounds of `npm run bench -- sessions` (bench/sessions.ts), imported once the environment
// names the plane and the node (the test support reads it).
import { clientsFor, freshNamespace } from '../test/support/cluster.ts';
import { createGrant, getGrant, grantSpec, isReady } from '../test/support/grants.ts';
import { startTestOperator } from '../test/support/operator.ts';
import { kubectlSession, tickingShell, type Session, type TimedSession } from '../test/support/sessions.ts';
import { readNodeState } from '../hack/node/node.ts';

export interface KindResult {
  kind: string;
  operator: 'up' | 'down';
  /** ms of last output after the deadline, per session that ended. */
  lateness: number[];
  note: string;
}

const sleep = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t)));

async function waitUntil<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(250);
  }
}

/** A session whose output is a stream of lines from the pod's own container (attach, logs -f). */
function timedStream(s: Session): { session: Session; lastAt: () => number | undefined } {
  let last: number | undefined;
  s.child.stdout.on('data', (d: Buffer) => {
    if (d.toString('utf8').includes('tick')) last = Date.now();
  });
  return { session: s, lastAt: () => last };
}

/** A port-forward through which a new HTTP connection is made every 0.2 s; lastAt: the last one answered. */
function portForwarded(s: Session): { session: Session; lastAt: () => number | undefined; stop: () => void } {
  let last: number | undefined;
  const state = { stopped: false };
  void (async () => {
    await s.waitFor(/Forwarding from 127\.0\.0\.1:\d+/, 60_000);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(s.output())?.[1]);
    while (!state.stopped) {
      try {
        const r = await fetch(`http://127.0.0.1:${String(port)}/`, { signal: AbortSignal.timeout(1_000) });
        if ((await r.text()).includes('pf-ok')) last = Date.now();
      } catch {
        /* refused or timed out: no byte came through */
      }
      await sleep(200);
    }
  })().catch(() => undefined);
  return {
    session: s,
    lastAt: () => last,
    stop: () => {
      state.stopped = true;
    },
  };
}

export async function measureRounds(o: {
  pods: number;
  rounds: number;
  ttlSeconds: number;
  watchUnboundedMs: number;
  say: (m: string) => void;
}): Promise<KindResult[]> {
  const node = readNodeState(process.env.DEBUGGRANT_TEST_NODE ?? '');
  if (!node) throw new Error('no node state');
  const results = new Map<string, KindResult>();
  const record = (kind: string, operator: 'up' | 'down', v: number | undefined, note: string): void => {
    const key = `${kind} ${operator}`;
    const r = results.get(key) ?? { kind, operator, lateness: [], note };
    if (v !== undefined && !Number.isNaN(v)) r.lateness.push(v);
    r.note = note;
    results.set(key, r);
  };
  const core = clientsFor('admin').core;
  for (let round = 0; round < o.rounds; round++) {
    const operator = round % 2 === 0 ? 'up' : 'down';
    const ns = await freshNamespace(`bench-sessions-${String(round)}`);
    const op = await startTestOperator([ns]);
    const app = { image: node.images.app.ref, imagePullPolicy: 'Never' as const };
    const spec = (command: string[]) => ({
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'app', ...app, command }],
    });
    const names = Array.from({ length: o.pods }, (_, i) => `p-${String(i)}`);
    for (const n of names)
      await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: n, labels: { app: 'b' } }, spec: spec(['sleep', 'inf']) } });
    // Prints a line every 0.2 s (attach, logs -f) and serves HTTP on 127.0.0.1:8080 (port-forward).
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'ticker', labels: { app: 'b' } },
        spec: spec([
          'sh',
          '-c',
          'mkdir -p /tmp/www && echo pf-ok > /tmp/www/index.html && httpd -p 127.0.0.1:8080 -h /tmp/www && while true; do echo tick; sleep 0.2; done',
        ]),
      },
    });
    for (const n of [...names, 'ticker'])
      await waitUntil(
        () => core.readNamespacedPod({ namespace: ns, name: n }),
        (p) => p.status?.phase === 'Running',
        120_000,
      );
    await createGrant(
      ns,
      'bench',
      grantSpec({
        podSelector: { matchLabels: { app: 'b' } },
        image: node.images.debugNonRoot.ref,
        profile: 'restricted',
        ttl: `${String(o.ttlSeconds)}s`,
        access: ['debug', 'exec', 'attach', 'logs', 'portForward'],
      }),
    );
    const grant = await waitUntil(() => getGrant(ns, 'bench'), isReady, 30_000);
    const deadline = Date.parse(grant?.status?.expiresAt ?? '');
    const shells: { kind: string; s: TimedSession }[] = [];
    const opened = await Promise.allSettled(
      names.flatMap((n) => [
        tickingShell('debug', 'alice', ns, n, { image: node.images.debugNonRoot.ref, container: 'dbg' }).then((s) => shells.push({ kind: 'debug', s })),
        tickingShell('exec', 'alice', ns, n, { image: '', container: '' }).then((s) => shells.push({ kind: 'exec', s })),
      ]),
    );
    const failed = opened.filter((r) => r.status === 'rejected').length;
    const attach = timedStream(kubectlSession('alice', ['-n', ns, 'attach', '-i', 'ticker']));
    const logs = timedStream(kubectlSession('alice', ['-n', ns, 'logs', '-f', 'ticker']));
    const forward = portForwarded(kubectlSession('alice', ['-n', ns, 'port-forward', 'pod/ticker', ':8080']));
    o.say(
      `round ${String(round + 1)}/${String(o.rounds)} (operator ${operator}): ${String(shells.length)} shells open (${String(failed)} failed to open), ${String(Math.round((deadline - Date.now()) / 1000))} s before the deadline`,
    );
    if (operator === 'down') await op.stop();
    await Promise.race([Promise.all(shells.map((x) => x.s.exitedAt)), sleep(deadline + 15_000 - Date.now())]);
    for (const { kind, s } of shells) record(kind, operator, (s.lastTickAt() ?? Number.NaN) - deadline, 'ends with the wrapper');
    await sleep(deadline + o.watchUnboundedMs - Date.now());
    forward.stop();
    for (const [kind, st] of [
      ['attach', attach],
      ['logs -f', logs],
      ['port-forward', forward],
    ] as const) {
      const last = (st.lastAt() ?? Number.NaN) - deadline;
      record(
        kind,
        operator,
        last,
        last >= o.watchUnboundedMs - 1_000 ? `not bounded: still streaming when watching stopped (+${String(o.watchUnboundedMs / 1000)} s)` : 'ended',
      );
    }
    for (const x of [...shells.map((y) => y.s.session), attach.session, logs.session, forward.session]) await x.stop();
    if (operator === 'up') await op.stop();
    await core.deleteNamespace({ name: ns });
  }
  return [...results.values()];
}
