// A kubeconfig user's exec credential plugin (client.authentication.k8s.io ExecCredential), run
// as kubectl runs it (aws eks get-token, gke-gcloud-auth-plugin, kubelogin…): its bearer token
// is used until its expirationTimestamp, then the plugin runs again. From 10 s before that, the
// plugin runs in the background while the still-valid token serves requests (a slow or failing
// plugin never holds up a revocation while the token is good); a token the API server refuses
// (401) is dropped, so the next request runs the plugin again, as client-go does. A plugin that answers with
// a client certificate instead is refused by name: the operator reads TLS material when it
// opens a connection, not per request.
import { execFile } from 'node:child_process';
import { dirname, isAbsolute, join } from 'node:path';
import * as z from 'zod';

export const ExecConfigSchema = z.looseObject({
  apiVersion: z.string(),
  command: z.string().min(1),
  args: z.array(z.string()).nullish(),
  env: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
});
export type ExecConfig = z.infer<typeof ExecConfigSchema>;

const ExecCredentialSchema = z.object({
  status: z.object({
    token: z.string().optional(),
    expirationTimestamp: z.string().optional(),
    clientCertificateData: z.string().optional(),
  }),
});

/** A token this close to its expiry is not used: the plugin runs again first. */
const EXPIRY_MARGIN_MS = 10_000;
/** A plugin that has not answered by then has failed (an interactive one waits for a person). */
const PLUGIN_TIMEOUT_MS = 60_000;

class ExecCredentialError extends Error {
  override readonly name = 'ExecCredentialError';
}

/** A bearer token that can be refreshed: `forget` after the API server refused it (401). */
export interface RefreshableToken {
  get: () => Promise<string>;
  forget: () => void;
}

/** Runs the plugin and gives its stdout. */
type RunPlugin = (command: string, args: string[], env: NodeJS.ProcessEnv) => Promise<string>;

const runPlugin: RunPlugin = (command, args, env) =>
  new Promise((resolve, reject) => {
    execFile(command, args, { env, timeout: PLUGIN_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message.split('\n')[0] ?? ''}${stderr.trim() ? `: ${stderr.trim()}` : ''}`, { cause: err }));
      else resolve(stdout);
    });
  });

/**
 * The token of the plugin `config` names (a relative command with a slash is relative to the
 * kubeconfig's directory, as in client-go), from `kubeconfig`'s user `user`.
 */
export function execToken(config: ExecConfig, kubeconfig: string, user: string, now: () => number = Date.now, run: RunPlugin = runPlugin): RefreshableToken {
  const command = config.command.includes('/') && !isAbsolute(config.command) ? join(dirname(kubeconfig), config.command) : config.command;
  const where = `the exec credential plugin ${command} of user "${user}" in kubeconfig ${kubeconfig}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...Object.fromEntries((config.env ?? []).map((e) => [e.name, e.value])),
    KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: config.apiVersion, kind: 'ExecCredential', spec: { interactive: false } }),
  };
  let cached: { token: string; expiresAt: number } | undefined;
  let running: Promise<string> | undefined;
  const fetchToken = async (): Promise<string> => {
    let out: string;
    try {
      out = await run(command, config.args ?? [], env);
    } catch (err) {
      throw new ExecCredentialError(`${where} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    let parsed: z.infer<typeof ExecCredentialSchema>;
    try {
      parsed = ExecCredentialSchema.parse(JSON.parse(out));
    } catch (err) {
      throw new ExecCredentialError(`${where} printed no ExecCredential with a status`, { cause: err });
    }
    const { token, expirationTimestamp, clientCertificateData } = parsed.status;
    if (!token) {
      throw new ExecCredentialError(
        clientCertificateData
          ? `${where} answers with a client certificate, which the operator does not support: use a plugin that gives a token, or a client certificate in the kubeconfig`
          : `${where} gave no token`,
      );
    }
    const expiresAt = expirationTimestamp ? Date.parse(expirationTimestamp) : Infinity;
    cached = { token, expiresAt: Number.isNaN(expiresAt) ? Infinity : expiresAt };
    return token;
  };
  return {
    get: () => {
      const at = now();
      if (cached && at < cached.expiresAt - EXPIRY_MARGIN_MS) return Promise.resolve(cached.token);
      running ??= fetchToken().finally(() => {
        running = undefined;
      });
      if (!cached || at >= cached.expiresAt) return running;
      // Still valid: it serves this request while the plugin runs; a failed run is tried again by the next.
      running.catch(() => undefined);
      return Promise.resolve(cached.token);
    },
    forget: () => {
      cached = undefined;
    },
  };
}
