// One real etcd + kube-apiserver on loopback, with RBAC and admission on, for tests
// and `npm run local`. Everything it writes lives under one directory; state.json
// in it lets another process find or stop the plane.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { makePki } from './pki.ts';
import { isAlive, loopbackPort, startProcess, stopPid, waitUntilReady, type Started } from './processes.ts';
import { LOCAL_USERS } from './users.ts';

export interface PlaneState {
  dir: string;
  server: string;
  kubeconfig: string;
  binDir: string;
  kubectl: string;
  caFile: string;
  tokens: Record<string, string>;
  pids: { etcd: number; apiserver: number };
  /** How the API server was started, so restartApiServer can start it again the same way. */
  apiserver: { bin: string; args: string[] };
  /** The process the control plane must not outlive. */
  ownerPid: number;
  /** The API server's audit log (JSON lines, config/audit/policy.yaml), rotated at AUDIT_LOG_MAX_MB. */
  auditLog: string;
}

export interface StartOptions {
  dir: string;
  binDir: string;
  kubeconfigPath?: string;
  apiPort?: number;
  progress?: (msg: string) => void;
  /** More kube-apiserver flags (e.g. a smaller --max-requests-inflight for the overload bench). */
  extraApiserverArgs?: string[];
  /** More etcd flags (e.g. a larger --quota-backend-bytes for the cluster bench's 150,000 pods). */
  extraEtcdArgs?: string[];
}

export const stateFile = (dir: string): string => join(dir, 'state.json');

/** The audit Policy the project recommends; the local API server runs with it. */
export const AUDIT_POLICY = fileURLToPath(new URL('../../config/audit/policy.yaml', import.meta.url));
/** Rotated at this size, one old file kept: a test run writes a few MB, a long `npm run local` stays bounded. */
export const AUDIT_LOG_MAX_MB = 50;

export async function startControlPlane(opts: StartOptions): Promise<PlaneState> {
  const say = opts.progress ?? (() => undefined);
  rmSync(opts.dir, { recursive: true, force: true });
  mkdirSync(opts.dir, { recursive: true });
  const [apiPort, etcdPort, peerPort] = [await loopbackPort(opts.apiPort ?? 0), await loopbackPort(), await loopbackPort()];
  const started: Started[] = [];
  try {
    say(`starting etcd on 127.0.0.1:${etcdPort}`);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = startProcess(
      'etcd',
      join(opts.binDir, 'etcd'),
      [
        '--name=local',
        `--data-dir=${join(opts.dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=local=http://127.0.0.1:${peerPort}`,
        // A throwaway store: durability buys nothing here and fsync dominates write latency.
        '--unsafe-no-fsync=true',
        '--log-level=warn',
        ...(opts.extraEtcdArgs ?? []),
      ],
      join(opts.dir, 'etcd.log'),
    );
    started.push(etcd);
    await waitUntilReady(
      etcd,
      async () => {
        const res = await fetch(`${etcdUrl}/health`);
        return res.ok && ((await res.json()) as { health?: string }).health === 'true';
      },
      30_000,
    );

    say('making certificates and tokens');
    const pki = makePki(join(opts.dir, 'pki'));
    const tokens = Object.fromEntries(LOCAL_USERS.map((u) => [u.name, randomBytes(24).toString('hex')]));
    const tokenFile = join(opts.dir, 'tokens.csv');
    writeFileSync(tokenFile, LOCAL_USERS.map((u) => `${tokens[u.name] ?? ''},${u.name},${u.name},"${u.groups.join(',')}"`).join('\n') + '\n', { mode: 0o600 });

    say(`starting kube-apiserver on https://127.0.0.1:${apiPort}`);
    const server = `https://127.0.0.1:${apiPort}`;
    const apiserverBin = join(opts.binDir, 'kube-apiserver');
    const auditLog = join(opts.dir, 'audit.log');
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(opts.dir, 'pki')}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--token-auth-file=${tokenFile}`,
      // Client certificates signed by the local CA authenticate too (the operator's kubeconfig loading is tested with one).
      `--client-ca-file=${pki.caCert}`,
      '--authorization-mode=RBAC',
      // The default admission chain (NamespaceLifecycle, ServiceAccount, PodSecurity,
      // ValidatingAdmissionPolicy, …) is what clusters run; name the ones we depend on.
      '--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,PodSecurity,ValidatingAdmissionPolicy',
      // Clusters allow privileged containers; without this the apiserver refuses them itself
      // and a test would credit our policies for that refusal.
      '--allow-privileged=true',
      '--service-cluster-ip-range=10.96.0.0/16',
      // The kubernetes Service's endpoints would have to be a non-loopback address; nothing here needs them.
      '--endpoint-reconciler-type=none',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      `--api-audiences=${server}`,
      // Audit logging as recommended (config/audit/policy.yaml): tests and `kubectl debuggrant report` read it.
      `--audit-policy-file=${AUDIT_POLICY}`,
      `--audit-log-path=${auditLog}`,
      `--audit-log-maxsize=${String(AUDIT_LOG_MAX_MB)}`,
      '--audit-log-maxbackup=1',
      '--v=1',
      ...(opts.extraApiserverArgs ?? []),
    ];
    const apiserver = startProcess('kube-apiserver', apiserverBin, apiserverArgs, join(opts.dir, 'kube-apiserver.log'));
    started.push(apiserver);
    const ca = readFileSync(pki.caCert);
    await waitUntilReady(apiserver, () => httpsOk(`${server}/readyz`, ca, tokens.admin ?? ''), 90_000);

    const kubeconfig = opts.kubeconfigPath ?? join(opts.dir, 'kubeconfig');
    writeKubeconfig(kubeconfig, server, ca, tokens);
    const state: PlaneState = {
      dir: opts.dir,
      server,
      kubeconfig,
      binDir: opts.binDir,
      kubectl: join(opts.binDir, 'kubectl'),
      caFile: pki.caCert,
      tokens,
      pids: { etcd: pidOf(etcd), apiserver: pidOf(apiserver) },
      apiserver: { bin: apiserverBin, args: apiserverArgs },
      ownerPid: process.pid,
      auditLog,
    };
    writeFileSync(stateFile(opts.dir), JSON.stringify(state, null, 2), { mode: 0o600 });
    say(`control plane ready: ${server}, kubeconfig ${kubeconfig}`);
    return state;
  } catch (err) {
    for (const p of started.reverse()) if (p.child.pid) await stopPid(p.child.pid);
    throw err;
  }
}

/** Stops the apiserver before etcd, so it never logs a storm of etcd errors on the way down. */
export async function stopControlPlane(state: Pick<PlaneState, 'pids'>): Promise<void> {
  await stopPid(state.pids.apiserver);
  await stopPid(state.pids.etcd);
}

/**
 * Kills the API server outright (SIGKILL: no graceful shutdown, watches cut mid-stream),
 * keeps it down for `downMs`, and starts it again with the same flags and etcd data.
 * Resolves once it is ready again, with the state (new pid) also written to state.json.
 */
export async function restartApiServer(state: PlaneState, downMs = 0): Promise<PlaneState> {
  process.kill(state.pids.apiserver, 'SIGKILL');
  while (isAlive(state.pids.apiserver)) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, downMs));
  const apiserver = startProcess('kube-apiserver', state.apiserver.bin, state.apiserver.args, join(state.dir, 'kube-apiserver.log'), state.ownerPid);
  try {
    await waitUntilReady(apiserver, () => httpsOk(`${state.server}/readyz`, readFileSync(state.caFile), state.tokens.admin ?? ''), 90_000);
  } catch (err) {
    if (apiserver.child.pid) await stopPid(apiserver.child.pid);
    throw err;
  }
  const restarted = { ...state, pids: { ...state.pids, apiserver: pidOf(apiserver) } };
  writeFileSync(stateFile(state.dir), JSON.stringify(restarted, null, 2), { mode: 0o600 });
  return restarted;
}

/**
 * Another kube-apiserver on the same etcd, as an HA control plane's second member, with the
 * same flags plus `extraArgs` (a feature gate turned off, say): what clients see from a server
 * configured differently, on the same objects. Its own port and audit log; stopped by `stop`,
 * or when the process that started it ends.
 */
export async function startSecondApiServer(state: PlaneState, name: string, extraArgs: string[]): Promise<{ server: string; stop: () => Promise<void> }> {
  const port = await loopbackPort();
  const server = `https://127.0.0.1:${String(port)}`;
  const args = state.apiserver.args.map((a) => {
    if (a.startsWith('--secure-port=')) return `--secure-port=${String(port)}`;
    if (a.startsWith('--audit-log-path=')) return `--audit-log-path=${join(state.dir, `audit-${name}.log`)}`;
    return a;
  });
  const apiserver = startProcess(`kube-apiserver (${name})`, state.apiserver.bin, [...args, ...extraArgs], join(state.dir, `kube-apiserver-${name}.log`));
  const stop = async (): Promise<void> => {
    if (apiserver.child.pid) await stopPid(apiserver.child.pid);
  };
  try {
    await waitUntilReady(apiserver, () => httpsOk(`${server}/readyz`, readFileSync(state.caFile), state.tokens.admin ?? ''), 90_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { server, stop };
}

export function readState(dir: string): PlaneState {
  return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as PlaneState;
}

function pidOf(p: Started): number {
  if (p.child.pid === undefined) throw new Error(`${p.name} has no pid`);
  return p.child.pid;
}

function httpsOk(url: string, ca: Buffer, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => {
      resolve(false);
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

function writeKubeconfig(path: string, server: string, ca: Buffer, tokens: Record<string, string>): void {
  const names = LOCAL_USERS.map((u) => u.name);
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'certificate-authority-data': ca.toString('base64') } }],
    users: names.map((name) => ({ name, user: { token: tokens[name] } })),
    contexts: names.map((name) => ({ name, context: { cluster: 'local', user: name, namespace: 'default' } })),
    'current-context': 'admin',
  };
  writeFileSync(path, stringify(doc), { mode: 0o600 });
}
