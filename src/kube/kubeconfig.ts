// Where the operator's requests go and as whom: the in-cluster ServiceAccount, or a kubeconfig
// file (DEBUGGRANT_KUBECONFIG, else $KUBECONFIG, else ~/.kube/config). What the operator
// needs and no more: server, CA, client certificates, bearer tokens (a token file is read
// again as the kubelet rotates it; an exec plugin's token is used until it expires:
// exec-credential.ts). auth-provider plugins, basic auth, proxies and impersonation are refused
// by name, so a misconfigured operator says so at start instead of failing every request.
// (The CLI reads kubeconfigs with client-node: src/cli/connection.ts.)
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import * as z from 'zod';
import { ExecConfigSchema, execToken } from './exec-credential.ts';

/** TLS options of a new connection. */
export interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/** A cluster and the credentials to use on it. */
export interface ClusterAccess {
  /** The API server's address, e.g. https://10.96.0.1:443. */
  server: string;
  /** For each new connection (certificate files are read again, so rotated ones are picked up). */
  tls(): TlsOptions;
  /** For each request: its Authorization header (a token file is read again as it rotates). */
  headers(): Promise<Record<string, string>> | Record<string, string>;
  /** The API server refused these credentials (401): the next request reads or fetches them anew. */
  refused?(): void;
}

/** The kubeconfig (or the in-cluster ServiceAccount) cannot be used as it is. */
export class KubeconfigError extends Error {
  override readonly name = 'KubeconfigError';
}

/** The kubelet mounts the ServiceAccount's token, CA and namespace here. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** How long a token read from a file is used before the file is read again (client-go: one minute). */
export const TOKEN_FILE_REREAD_MS = 60_000;

/**
 * A bearer token read from a file, read again once TOKEN_FILE_REREAD_MS have passed: the
 * kubelet rewrites a projected ServiceAccount token well before it expires (at 80% of its
 * life, an hour by default). A failed read keeps the last token, as client-go does.
 */
export function tokenFromFile(file: string, now: () => number = Date.now): { get: () => string; forget: () => void } {
  let token: string | undefined;
  let readAt = -Infinity;
  const get = (): string => {
    if (token === undefined || now() - readAt >= TOKEN_FILE_REREAD_MS) {
      try {
        token = readFileSync(file, 'utf8').trim();
        readAt = now();
      } catch (err) {
        if (token === undefined)
          throw new KubeconfigError(`token file ${file} cannot be read: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
    return token;
  };
  // A refused token: read the file at the next request (the kubelet may have rotated it), keeping it should that fail.
  return {
    get,
    forget: () => {
      readAt = -Infinity;
    },
  };
}

const bearer = (token: () => string) => (): Record<string, string> => ({ authorization: `Bearer ${token()}` });

/**
 * The ServiceAccount of the Pod the operator runs in: KUBERNETES_SERVICE_HOST/PORT, the CA and
 * token the kubelet mounts in `dir` (client-go's rest.InClusterConfig).
 */
export function inClusterAccess(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR, now: () => number = Date.now): ClusterAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new KubeconfigError('not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set');
  const tokenFile = join(dir, 'token');
  if (!existsSync(tokenFile)) throw new KubeconfigError(`no ServiceAccount token at ${tokenFile}: is automountServiceAccountToken off for the operator's Pod?`);
  const caFile = join(dir, 'ca.crt');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tls: () => ({ ca: readFile(caFile, 'the ServiceAccount CA') }),
    ...withToken(tokenFromFile(tokenFile, now)),
  };
}

/** Headers and the 401 hook of a token from a file. */
const withToken = (t: { get: () => string; forget: () => void }): Pick<ClusterAccess, 'headers' | 'refused'> => ({ headers: bearer(t.get), refused: t.forget });

function readFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new KubeconfigError(`${what} ${file} cannot be read: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

const ClusterSchema = z.looseObject({
  server: z.string().nullish(),
  'certificate-authority': z.string().nullish(),
  'certificate-authority-data': z.string().nullish(),
  'insecure-skip-tls-verify': z.boolean().nullish(),
  'tls-server-name': z.string().nullish(),
  'proxy-url': z.string().nullish(),
});
const UserSchema = z.looseObject({
  token: z.string().nullish(),
  exec: ExecConfigSchema.nullish(),
  tokenFile: z.string().nullish(),
  'client-certificate': z.string().nullish(),
  'client-certificate-data': z.string().nullish(),
  'client-key': z.string().nullish(),
  'client-key-data': z.string().nullish(),
});
const ContextSchema = z.looseObject({ cluster: z.string(), user: z.string().nullish(), namespace: z.string().nullish() });
const Kubeconfig = z.object({
  'current-context': z.string().nullish(),
  clusters: z.array(z.object({ name: z.string(), cluster: ClusterSchema })).nullish(),
  users: z.array(z.object({ name: z.string(), user: UserSchema.nullish() })).nullish(),
  contexts: z.array(z.object({ name: z.string(), context: ContextSchema })).nullish(),
});
type Cluster = z.infer<typeof ClusterSchema>;
type User = z.infer<typeof UserSchema>;
type Context = z.infer<typeof ContextSchema>;

/** User fields the operator refuses, and why. */
const UNSUPPORTED_USER: Record<string, string> = {
  'auth-provider': 'an auth-provider plugin',
  username: 'basic authentication',
  as: 'impersonation',
  'as-groups': 'impersonation',
  'as-uid': 'impersonation',
};

interface Loaded<T> {
  value: T;
  /** The file it came from: relative paths in it are relative to its directory. */
  file: string;
}

interface Merged {
  contexts: Map<string, Loaded<Context>>;
  clusters: Map<string, Loaded<Cluster>>;
  users: Map<string, Loaded<User>>;
  current: string | undefined;
}

/** Several kubeconfig files as kubectl merges them: the first file to name a cluster, user or context wins. */
function merge(files: string[]): Merged {
  const merged: Merged = { contexts: new Map(), clusters: new Map(), users: new Map(), current: undefined };
  for (const file of files) {
    let raw: unknown;
    try {
      raw = parse(readFileSync(file, 'utf8')) ?? {};
    } catch (err) {
      throw new KubeconfigError(`kubeconfig ${file} cannot be read: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const parsed = Kubeconfig.safeParse(raw);
    if (!parsed.success) throw new KubeconfigError(`kubeconfig ${file} is not a kubeconfig: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
    const k = parsed.data;
    merged.current ??= k['current-context'] || undefined;
    for (const c of k.clusters ?? []) if (!merged.clusters.has(c.name)) merged.clusters.set(c.name, { value: c.cluster, file });
    for (const u of k.users ?? []) if (!merged.users.has(u.name)) merged.users.set(u.name, { value: u.user ?? {}, file });
    for (const c of k.contexts ?? []) if (!merged.contexts.has(c.name)) merged.contexts.set(c.name, { value: c.context, file });
  }
  return merged;
}

/** The files to read, as kubectl picks them: the one given, else $KUBECONFIG's (those present), else ~/.kube/config. */
export function kubeconfigFiles(explicit: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (explicit) return [explicit];
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (listed.length > 0) return listed.filter((f) => existsSync(f));
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  return existsSync(home) ? [home] : [];
}

/** A context of kubeconfig `files` (its current one unless `context` is given). */
export function kubeconfigAccess(files: string[], context?: string, now: () => number = Date.now): ClusterAccess {
  const where = files.join(delimiter);
  const k = merge(files);
  const contextName = context ?? k.current;
  if (!contextName) throw new KubeconfigError(`kubeconfig ${where} has no current-context: set one, or DEBUGGRANT_CONTEXT`);
  const ctx = k.contexts.get(contextName)?.value;
  if (!ctx) throw new KubeconfigError(`context "${contextName}" is not in kubeconfig ${where} (contexts: ${[...k.contexts.keys()].join(', ') || 'none'})`);
  const cluster = k.clusters.get(ctx.cluster);
  if (!cluster) throw new KubeconfigError(`context "${contextName}" names cluster "${ctx.cluster}", which kubeconfig ${where} does not define`);
  const user = ctx.user ? k.users.get(ctx.user) : undefined;
  if (ctx.user && !user) throw new KubeconfigError(`context "${contextName}" names user "${ctx.user}", which kubeconfig ${where} does not define`);
  const c = cluster.value;
  const server = c.server;
  if (!server) throw new KubeconfigError(`cluster "${ctx.cluster}" in kubeconfig ${cluster.file} has no server`);
  if (c['proxy-url']) throw new KubeconfigError(`cluster "${ctx.cluster}" in kubeconfig ${cluster.file} uses proxy-url, which the operator does not support`);
  const insecure = c['insecure-skip-tls-verify'] === true;
  if (server.startsWith('http://') && !insecure)
    throw new KubeconfigError(`cluster "${ctx.cluster}" in kubeconfig ${cluster.file} uses plain http (${server}): use its https:// address`);
  const u = user?.value ?? {};
  for (const [field, what] of Object.entries(UNSUPPORTED_USER)) {
    if (u[field] !== undefined && u[field] !== null)
      throw new KubeconfigError(
        `user "${ctx.user ?? ''}" in kubeconfig ${user?.file ?? where} uses ${what} (${field}), which the operator does not support: give it a token, tokenFile, exec plugin or client certificate, or run it in the cluster with its ServiceAccount`,
      );
  }
  const at = (file: string | null | undefined, base: string): string | undefined => (file ? (isAbsolute(file) ? file : join(dirname(base), file)) : undefined);
  const material = (file: string | undefined, data: string | null | undefined, what: string): Buffer | undefined =>
    file ? readFile(file, what) : data ? Buffer.from(data, 'base64') : undefined;
  const caFile = at(c['certificate-authority'], cluster.file);
  const certFile = user && at(u['client-certificate'], user.file);
  const keyFile = user && at(u['client-key'], user.file);
  const tokenFile = user && at(u.tokenFile, user.file);
  const fileToken = tokenFile ? tokenFromFile(tokenFile, now) : undefined;
  const plugin = user && u.exec ? execToken(u.exec, user.file, ctx.user ?? '', now) : undefined;
  return {
    server,
    tls: () => ({
      ...(insecure ? { rejectUnauthorized: false } : { ca: material(caFile, c['certificate-authority-data'], 'certificate-authority') }),
      ...(c['tls-server-name'] ? { servername: c['tls-server-name'] } : {}),
      cert: material(certFile, u['client-certificate-data'], 'client-certificate'),
      key: material(keyFile, u['client-key-data'], 'client-key'),
    }),
    ...(plugin
      ? { headers: async () => ({ authorization: `Bearer ${await plugin.get()}` }), refused: plugin.forget }
      : u.token
        ? { headers: bearer(() => u.token ?? '') }
        : fileToken
          ? withToken(fileToken)
          : { headers: () => ({}) }),
  };
}

/**
 * The operator's cluster: kubeconfig `file` (else $KUBECONFIG, else ~/.kube/config), else the
 * in-cluster ServiceAccount; `context` overrides the kubeconfig's current one.
 */
export function loadAccess(opts: { kubeconfig?: string; context?: string; env?: NodeJS.ProcessEnv; serviceAccountDir?: string } = {}): ClusterAccess {
  const env = opts.env ?? process.env;
  const files = kubeconfigFiles(opts.kubeconfig, env);
  if (files.length > 0) return kubeconfigAccess(files, opts.context);
  if (env.KUBECONFIG) throw new KubeconfigError(`none of the kubeconfig files in KUBECONFIG (${env.KUBECONFIG}) exists`);
  if (!env.KUBERNETES_SERVICE_HOST)
    throw new KubeconfigError(
      'no kubeconfig (DEBUGGRANT_KUBECONFIG, KUBECONFIG, ~/.kube/config) and not running in a cluster (KUBERNETES_SERVICE_HOST is not set)',
    );
  return inClusterAccess(env, opts.serviceAccountDir);
}
