// kubectl sessions that stay open (exec, attach, port-forward, logs -f, debug) as a local user,
// and shells that print a line every 0.2 s, timed: when did the last line come through, when
// did kubectl exit. Used by the real-node tests and `npm run bench -- sessions` (so no jest here).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { LocalUserName } from '../../hack/controlplane/users.ts';
import { plane } from './cluster.ts';

export interface Session {
  child: ChildProcessWithoutNullStreams;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when `text` has appeared in the output (rejects after `timeoutMs`). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const shellQuote = (arg: string): string => `'${arg.replaceAll("'", "'\\''")}'`;

/** Our kubectl as `user`, kept running with its stdin open (interactive flows). */
export function kubectlSession(user: LocalUserName, args: string[], opts: { tty?: boolean } = {}): Session {
  const p = plane();
  return session([p.kubectl, '--kubeconfig', p.kubeconfig, '--context', user, ...args], opts);
}

/**
 * A command kept running with its stdin open. With `tty` it runs inside `script`, which gives
 * it a pseudo-terminal, as `-it` has in a person's shell (from a pipe kubectl drops the TTY
 * and attach then fails).
 */
export function session(argv: string[], opts: { tty?: boolean } = {}): Session {
  const args = argv.slice(1);
  const child = opts.tty ? spawn('script', ['--quiet', '--return', '--command', argv.map(shellQuote).join(' '), '/dev/null']) : spawn(argv[0] ?? '', args);
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    child,
    output: () => out,
    async waitFor(text, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      const seen = (): boolean => (typeof text === 'string' ? out.includes(text) : text.test(out));
      while (!seen()) {
        if (done) throw new Error(`${argv.join(' ')} exited before printing ${String(text)}; output:\n${out}`);
        if (Date.now() > deadline) throw new Error(`${argv.join(' ')} did not print ${String(text)} within ${timeoutMs} ms; output:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exited,
    async stop() {
      if (!done) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The access kinds whose sessions are a shell the grantee types into. */
export type ShellKind = 'debug' | 'exec';

export interface TimedSession {
  session: Session;
  /** Local time of the last output chunk holding a tick line (undefined before the first). */
  lastTickAt(): number | undefined;
  /** Resolves with the local time kubectl exited. */
  exitedAt: Promise<number>;
}

const TICKER = 'while true; do echo tick-$(date +%s); sleep 0.2; done';

/**
 * A shell of `kind` on `pod` as `user`: `kubectl debug -it POD --image=IMAGE --profile=restricted`
 * with no command (the image's default shell; `target`: sharing that container's process
 * namespace), or `kubectl exec -it POD -- sh`; `before` and a ticking loop are typed into it.
 * Resolves once the first tick arrived.
 */
export async function tickingShell(
  kind: ShellKind,
  user: LocalUserName,
  namespace: string,
  pod: string,
  opts: { image: string; container: string; target?: string; before?: string },
): Promise<TimedSession> {
  const args =
    kind === 'debug'
      ? [
          '-n',
          namespace,
          'debug',
          '-it',
          pod,
          `--image=${opts.image}`,
          '--profile=restricted',
          `--container=${opts.container}`,
          ...(opts.target ? [`--target=${opts.target}`] : []),
        ]
      : ['-n', namespace, 'exec', '-it', pod, '--', 'sh'];
  const session = kubectlSession(user, args, { tty: true });
  let last: number | undefined;
  session.child.stdout.on('data', (d: Buffer) => {
    if (d.toString('utf8').includes('tick-')) last = Date.now();
  });
  const exitedAt = session.exited.then(() => Date.now());
  session.child.stdin.write(`${opts.before ? `${opts.before}\n` : ''}${TICKER}\n`);
  try {
    await session.waitFor(/tick-\d/, 60_000);
  } catch (err) {
    await session.stop();
    throw err;
  }
  return { session, lastTickAt: () => last, exitedAt };
}

/** When kubectl exited, or NaN if it was still running at `untilMs` (local time). */
export function exitedBy(shell: TimedSession, untilMs: number): Promise<number> {
  return Promise.race([
    shell.exitedAt,
    new Promise<number>((resolve) =>
      setTimeout(() => {
        resolve(Number.NaN);
      }, untilMs - Date.now()),
    ),
  ]);
}
