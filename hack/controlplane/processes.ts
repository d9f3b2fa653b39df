// Child processes of the control plane: started with their output in a log file,
// watched for early exit, stopped with TERM then KILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Started {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

/** `owner`: the process it must not outlive (this one unless said otherwise). */
export function startProcess(name: string, bin: string, args: string[], logFile: string, owner = process.pid): Started {
  if (!existsSync(bin)) {
    throw new Error(`${name} binary not found at ${bin}: run hack/build-binaries.sh or set KUBEBUILDER_ASSETS`);
  }
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (child.pid) stopWhenOwnerDies(child.pid, owner);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
    child.once('error', () => {
      resolve(-1);
    });
  });
  return { name, child, logFile, exited };
}

/**
 * A detached watchdog that stops the child once this process is gone, however it went
 * (a killed test run, a closed terminal): the control plane never outlives its owner.
 */
export function stopWhenOwnerDies(child: number, owner = process.pid): void {
  const script = `while kill -0 ${String(owner)} 2>/dev/null; do sleep 1; done; kill -TERM ${String(child)} 2>/dev/null; sleep 5; kill -KILL ${String(child)} 2>/dev/null`;
  spawn('sh', ['-c', script], { stdio: 'ignore', detached: true }).unref();
}

export function logTail(file: string, lines = 25): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** Polls `ready` until it returns true; fails fast, with the log tail, if the process dies. */
export async function waitUntilReady(p: Started, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead: number | null | undefined;
  void p.exited.then((code) => {
    dead = code;
  });
  while (Date.now() < deadline) {
    if (dead !== undefined) {
      throw new Error(`${p.name} exited with code ${String(dead)} before it was ready; last lines of ${p.logFile}:\n${logTail(p.logFile)}`);
    }
    if (await ready().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${p.name} was not ready after ${timeoutMs} ms; last lines of ${p.logFile}:\n${logTail(p.logFile)}`);
}

export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && isAlive(pid)) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await new Promise((r) => setTimeout(r, 50));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A free loopback port, or the requested one if nobody listens on it (else a clear error). */
export function loopbackPort(requested = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `port ${requested} on 127.0.0.1 is taken: stop what listens there (another control plane? \`npm run local -- stop\`) or choose another port`,
              { cause: err },
            )
          : err,
      );
    });
    server.listen(requested, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : requested;
      server.close(() => {
        resolve(port);
      });
    });
  });
}
