// Operator configuration: one YAML/JSON file (DEBUGGRANT_CONFIG) parsed once at start.
// A bad value stops the operator with a message naming the field, before it touches anything.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import * as z from 'zod';
import { CRD_MAX_TTL, PROFILES, describeIssues } from './api/schema.ts';
import { parseDuration } from './api/duration.ts';

/** `host:port` or `:port` (all interfaces); "0" turns the server off. */
export interface BindAddress {
  host: string | undefined;
  port: number;
}

export function parseBindAddress(address: string): BindAddress | undefined {
  if (address === '0') return undefined;
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]*):(\d{1,5})$/.exec(address);
  if (!m?.[2] || Number(m[2]) > 65535) throw new Error(`bind address ${address} is not host:port, :port or 0`);
  const host = m[1]?.replace(/^\[|\]$/g, '');
  return { host: host === '' ? undefined : host, port: Number(m[2]) };
}

const isLoopback = (host: string | undefined): boolean => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host ?? '');

const Bind = (what: string) =>
  z.string().refine((a) => {
    try {
      parseBindAddress(a);
      return true;
    } catch {
      return false;
    }
  }, `${what} must be host:port, :port, or 0 to turn it off`);

/** Kubernetes' own namespaces: reserved by default. */
export const SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'] as const;

const ShortDuration = (what: string) => z.string().refine((d) => shortMs(d) !== undefined, `${what} must be a timeout like 500ms or 10s`);
const Duration = (what: string) => z.string().refine((d) => parseDuration(d) !== undefined, `${what} must be a duration like 30m or 2h`);

export const OperatorConfigSchema = z.strictObject({
  /** The longest ttl a grant may ask for (the CRD's ceiling is 24h). */
  maxTtl: Duration('maxTtl')
    .default('4h')
    .refine((d) => (parseDuration(d) ?? 0) <= (parseDuration(CRD_MAX_TTL) ?? 0), `maxTtl may be at most ${CRD_MAX_TTL}`),
  /** Image prefixes a grant may use, e.g. "registry.example.com/debug/". */
  approvedRegistries: z
    .array(
      z
        .string()
        .min(1)
        .refine((r) => r.endsWith('/'), 'a registry prefix must end with "/" so "reg.io/debug" cannot match "reg.io/debugger-evil"'),
    )
    .min(1),
  allowedProfiles: z.array(z.enum(PROFILES)).min(1).default(['baseline', 'restricted', 'netadmin']),
  /** Namespaces to watch; empty means all. */
  namespaces: z.array(z.string().min(1)).default([]),
  /**
   * Namespaces where no grant is ever served (the admission policy refuses creating one, the
   * operator Denies one that got in anyway): the operator's own (its ServiceAccount token is
   * every namespace's RBAC) and the system namespaces. The operator adds its own (POD_NAMESPACE).
   */
  reservedNamespaces: z.array(z.string().min(1)).default([...SYSTEM_NAMESPACES]),
  /** How long the record of an ended grant is kept, so a re-applied copy cannot grant again. */
  endedRetention: Duration('endedRetention').default('2160h'),
  /** Groups whose members may bypass the admission policies; each use is reported. */
  breakGlassGroups: z.array(z.string().min(1)).default([]),
  /** Identities allowed to create DebugGrants (the GitOps controller, approvers). */
  grantCreators: z
    .strictObject({
      users: z.array(z.string().min(1)).default([]),
      groups: z.array(z.string().min(1)).default([]),
    })
    .default({ users: [], groups: [] }),
  /**
   * How the debug containers of each image end at the grant's deadline, by image reference
   * prefix (the longest matching prefix rules; '' matches every image). `wrapper: timeout`:
   * the image has sh, date and timeout, and the admission policies wrap the container's
   * command with the deadline; `command` is what runs when the container names none (the
   * image's entrypoint is invisible to the API server; [] refuses such containers). `none`:
   * its debug containers cannot be bounded, so none is admitted. An image no prefix matches
   * is refused too.
   */
  sessionImages: z
    .array(
      z
        .strictObject({
          image: z.string(),
          wrapper: z.enum(['timeout', 'none']).default('timeout'),
          command: z.array(z.string().min(1)).default([]),
        })
        .refine((e) => e.wrapper === 'timeout' || e.command.length === 0, { message: 'wrapper: none runs nothing, so it takes no command', path: ['command'] }),
    )
    .default([{ image: '', wrapper: 'timeout', command: ['sh'] }])
    .refine((es) => new Set(es.map((e) => e.image)).size === es.length, 'sessionImages names an image prefix twice'),
  /**
   * Whether the granted pods' containers have sh, date and timeout: `timeout` wraps every
   * grantee's exec command with the grant's deadline inside the API server (exec sessions end
   * by it); `none` leaves exec commands alone, and exec streams are not bounded.
   */
  execWrapper: z.enum(['timeout', 'none']).default('timeout'),
  /**
   * Grants reconciled at once. An activation mostly waits (~200 ms of ~250 ms: RBAC's escalation
   * check on the Role and on the RoleBinding, docs/benchmark.md "Activation at scale"), so
   * throughput grows with workers: 4 held activation near 14 grants/s.
   */
  workers: z.number().int().min(1).max(64).default(32),
  /** How long after a revocation SubjectAccessReview may still allow before access counts as standing. */
  revocationSettle: Duration('revocationSettle').default('5s'),
  /** /healthz and /readyz, plain HTTP for the kubelet's probes. */
  healthProbeBindAddress: Bind('healthProbeBindAddress').default(':8081'),
  /** /metrics: HTTPS, and only for callers whose token may `get /metrics` (TokenReview + SubjectAccessReview). */
  metrics: z
    .strictObject({
      bindAddress: Bind('metrics.bindAddress').default(':8443'),
      secure: z.boolean().default(true),
      /** A directory holding tls.crt and tls.key (e.g. a cert-manager Secret); without it a self-signed certificate is made at start. */
      certDir: z.string().min(1).optional(),
    })
    .default({ bindAddress: ':8443', secure: true })
    .refine((m) => m.secure || m.bindAddress === '0' || isLoopback(parseBindAddress(m.bindAddress)?.host), {
      message: 'metrics.secure: false serves metrics to anyone who can connect: allowed only on a loopback address (127.0.0.1:PORT)',
      path: ['secure'],
    }),
  /** Every API request fails after requestTimeout and is retried on a fresh connection; watches have none. */
  api: z
    .strictObject({
      requestTimeout: ShortDuration('api.requestTimeout').default('10s'),
      /** A RoleBinding delete (the request that ends access) with no answer this long gets another attempt on a fresh connection; the first keeps waiting. */
      revocationTimeout: ShortDuration('api.revocationTimeout').default('500ms'),
    })
    .default({ requestTimeout: '10s', revocationTimeout: '500ms' }),
  leaderElection: z
    .strictObject({
      enabled: z.boolean().default(false),
      namespace: z.string().default('debuggrant-system'),
      leaseName: z.string().default('debuggrant-operator'),
      leaseDuration: Duration('leaderElection.leaseDuration').default('15s'),
    })
    .default({ enabled: false, namespace: 'debuggrant-system', leaseName: 'debuggrant-operator', leaseDuration: '15s' }),
});

export type OperatorConfig = z.infer<typeof OperatorConfigSchema>;

/** With the operator's own namespace reserved too, whatever the file says. */
export function withOwnNamespace(config: OperatorConfig, ownNamespace: string | undefined): OperatorConfig {
  if (!ownNamespace || config.reservedNamespaces.includes(ownNamespace)) return config;
  return { ...config, reservedNamespaces: [...config.reservedNamespaces, ownNamespace] };
}

export class ConfigError extends Error {}

export function parseConfig(raw: unknown, source = 'configuration'): OperatorConfig {
  const result = OperatorConfigSchema.safeParse(raw ?? {});
  if (!result.success) {
    throw new ConfigError(`invalid ${source}:\n  ${describeIssues(result.error).join('\n  ')}`);
  }
  return result.data;
}

export function loadConfig(env: Record<string, string | undefined>): OperatorConfig {
  const file = env.DEBUGGRANT_CONFIG;
  if (!file)
    throw new ConfigError(
      'DEBUGGRANT_CONFIG is not set: point it at the operator configuration file (see config/samples/operator-config.yaml, or the debuggrant-config ConfigMap in config/manager/manager.yaml)',
    );
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read configuration file ${file}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ConfigError(`configuration file ${file} is not valid YAML: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  // The downward API's namespace of the operator's pod (config/manager, the chart): reserved.
  return withOwnNamespace(parseConfig(raw, `configuration file ${file}`), env.POD_NAMESPACE);
}

export const ms = (d: string): number => parseDuration(d) ?? 0;

/** Milliseconds of a timeout like "10s", "500ms" or "1s500ms" (Go's units below a minute), or undefined. */
export function shortMs(d: string): number | undefined {
  const m = /^(?:(\d+)s)?(?:(\d+)ms)?$/.exec(d);
  if (!m || d === '' || d === '0s' || d === '0ms') return undefined;
  return Number(m[1] ?? 0) * 1000 + Number(m[2] ?? 0);
}
