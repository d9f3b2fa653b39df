// The DebugGrant API as zod schemas. crds/debuggrant.dev_debuggrants.yaml states the same
// rules for the API server; test/integration/validate-agreement.test.ts feeds one catalogue
// to both (through `kubectl debuggrant validate`) so they cannot drift apart.
import * as z from 'zod';
import { ACCESS_KINDS } from './access.ts';
import { PROFILES } from './profiles.ts';
import { DURATION_PATTERN, parseDuration } from './duration.ts';
import { LABEL_KEY_MESSAGE, LABEL_NAME_MESSAGE, LABEL_VALUE_MESSAGE, SUBDOMAIN_MESSAGE, isDnsLabel, isLabelKey, isLabelValue, isSubdomain } from './labels.ts';

export const GROUP = 'debuggrant.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'DebugGrant';
export const PLURAL = 'debuggrants';

/** Hard ceiling in the CRD; the operator's configured maximum is usually lower. */
export const CRD_MAX_TTL = '24h';
export const MAX_GRANT_NAME = 63;
export { PROFILES, type Profile } from './profiles.ts';

// A reference pinned by digest: [registry[:port]/]path[:tag]@sha256:<64 hex>.
export const IMAGE_PATTERN =
  '^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]+)?/)?' +
  '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*' +
  '(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[a-f0-9]{64}$';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const SubjectSchema = z
  .strictObject({
    kind: z.enum(['User', 'Group', 'ServiceAccount']),
    name: z.string().min(1).max(253),
    namespace: z.string().max(63).regex(DNS_LABEL, 'must be a namespace name').optional(),
  })
  .superRefine((s, ctx) => {
    if (s.kind === 'ServiceAccount') {
      if (!s.namespace) ctx.addIssue({ code: 'custom', path: ['namespace'], message: 'a ServiceAccount subject needs its namespace' });
      if (!DNS_SUBDOMAIN.test(s.name)) ctx.addIssue({ code: 'custom', path: ['name'], message: 'must be a ServiceAccount name (lowercase DNS subdomain)' });
    } else {
      if (s.namespace !== undefined)
        ctx.addIssue({ code: 'custom', path: ['namespace'], message: `namespace applies only to ServiceAccount subjects, not ${s.kind}` });
      if (s.name.startsWith('system:')) {
        ctx.addIssue({
          code: 'custom',
          path: ['name'],
          message: `system:* identities (like ${s.name}) cannot be granted debug access: name a person, a team group or a ServiceAccount`,
        });
      }
    }
  });

// Limits as in the CRD: they keep the CEL rules' cost within the API server's budget.
export const MAX_MATCH_LABELS = 32;
export const MAX_MATCH_EXPRESSIONS = 16;
export const MAX_EXPRESSION_VALUES = 64;

const LabelSelectorRequirement = z
  .strictObject({
    key: z.string().min(1).max(317).refine(isLabelKey, LABEL_KEY_MESSAGE),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: z.array(z.string().max(63).refine(isLabelValue, LABEL_VALUE_MESSAGE)).max(MAX_EXPRESSION_VALUES).optional(),
  })
  .superRefine((e, ctx) => {
    // metav1.LabelSelector's own rules, which the CRD restates in CEL.
    const count = e.values?.length ?? 0;
    if ((e.operator === 'In' || e.operator === 'NotIn') && count === 0)
      ctx.addIssue({ code: 'custom', path: ['values'], message: 'values must be non-empty for In and NotIn' });
    if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && count > 0)
      ctx.addIssue({ code: 'custom', path: ['values'], message: 'values must be empty for Exists and DoesNotExist' });
  });

export const PodSelectorSchema = z
  .strictObject({
    matchLabels: z.record(z.string(), z.string().max(63)).optional(),
    matchExpressions: z.array(LabelSelectorRequirement).max(MAX_MATCH_EXPRESSIONS).optional(),
  })
  .superRefine((s, ctx) => {
    const labels = Object.entries(s.matchLabels ?? {});
    if (labels.length > MAX_MATCH_LABELS)
      ctx.addIssue({ code: 'custom', path: ['matchLabels'], message: `may have at most ${String(MAX_MATCH_LABELS)} labels` });
    for (const [key, value] of labels) {
      if (!isLabelKey(key)) ctx.addIssue({ code: 'custom', path: ['matchLabels', key], message: LABEL_KEY_MESSAGE });
      if (!isLabelValue(value)) ctx.addIssue({ code: 'custom', path: ['matchLabels', key], message: LABEL_VALUE_MESSAGE });
    }
  })
  .refine(
    (s) => Object.keys(s.matchLabels ?? {}).length > 0 || (s.matchExpressions ?? []).some((e) => e.operator === 'In' || e.operator === 'Exists'),
    'podSelector must name the pods: give matchLabels or an In/Exists expression (an empty or only-negative selector matches every pod)',
  );

export const DebugGrantSpecSchema = z.strictObject({
  subject: SubjectSchema,
  podSelector: PodSelectorSchema,
  image: z
    .string()
    .max(512)
    .regex(new RegExp(IMAGE_PATTERN), 'image must be pinned by digest, e.g. registry.example.com/debug/netshoot@sha256:<64 hex> (a tag alone can be moved)'),
  ttl: z
    .string()
    .regex(new RegExp(DURATION_PATTERN), 'ttl must be a duration like 30m, 2h or 1h30m')
    .refine((t) => (parseDuration(t) ?? 0) > 0, 'ttl must be longer than 0s')
    .refine((t) => (parseDuration(t) ?? 0) <= (parseDuration(CRD_MAX_TTL) ?? 0), `ttl may be at most ${CRD_MAX_TTL}`),
  notAfter: z.iso.datetime({ offset: true }).optional(),
  reason: z
    .string()
    .max(1024)
    .refine(
      (r) => r.trim().length >= 10 && /\S+\s+\S+/.test(r.trim()),
      'reason must say why, in a few words (at least 10 characters, e.g. "INC-4211 checkout latency, need tcpdump")',
    ),
  access: z
    .array(z.enum(ACCESS_KINDS))
    .min(1)
    .max(ACCESS_KINDS.length)
    .refine((a) => new Set(a).size === a.length, 'access lists each kind once')
    .default(['debug']),
  profile: z.enum(PROFILES).default('restricted'),
  onExpiry: z.enum(['Flag', 'Evict']).default('Flag'),
  approval: z.strictObject({ ref: z.string().min(1).max(1024) }).optional(),
});

export type DebugGrantSpec = z.infer<typeof DebugGrantSpecSchema>;
export type Subject = DebugGrantSpec['subject'];
export type PodSelector = DebugGrantSpec['podSelector'];

const LabelsSchema = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const [key, value] of Object.entries(labels)) {
    if (!isLabelKey(key)) ctx.addIssue({ code: 'custom', path: [key], message: LABEL_KEY_MESSAGE });
    if (!isLabelValue(value)) ctx.addIssue({ code: 'custom', path: [key], message: LABEL_VALUE_MESSAGE });
  }
});

/** What the API server checks of a grant's metadata (apimachinery's ObjectMeta rules), and our length limit. */
export const GrantMetadataSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(MAX_GRANT_NAME, `grant names may be at most ${MAX_GRANT_NAME} characters (they label the Role and RoleBinding)`)
      .refine(isSubdomain, SUBDOMAIN_MESSAGE),
    namespace: z.string().min(1).refine(isDnsLabel, LABEL_NAME_MESSAGE),
    labels: LabelsSchema.optional(),
    annotations: z.record(z.string().refine(isLabelKey, 'annotation keys must be qualified names, like label keys'), z.string()).optional(),
  })
  .loose();

/** A whole DebugGrant document as written in Git (what `validate` and the CRD check). */
export const DebugGrantDocumentSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: GrantMetadataSchema,
  spec: DebugGrantSpecSchema,
});

export interface FieldIssue {
  path: PropertyKey[];
  message: string;
}

/** zod's issues in the words a person needs, one per field (each unknown field apart). */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((i): FieldIssue[] =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ path: [...i.path, k], message: 'unknown field: the API server refuses it (field names are case-sensitive)' }))
      : [{ path: i.path, message: humanMessage(i) }],
  );
}

function humanMessage(i: z.core.$ZodIssue): string {
  const custom = !i.message.startsWith('Invalid') && !i.message.startsWith('Too ');
  switch (i.code) {
    case 'invalid_type':
      return i.message.endsWith('received undefined')
        ? 'is required'
        : `must be ${i.expected === 'array' ? 'a list' : i.expected === 'object' ? 'a mapping' : `a ${i.expected}`}`;
    case 'invalid_value':
      return `must be one of: ${i.values.map(String).join(', ')}`;
    case 'too_small':
      if (custom) return i.message;
      if (i.origin === 'string') return Number(i.minimum) === 1 ? 'must not be empty' : `must be at least ${String(i.minimum)} characters`;
      return `needs at least ${String(i.minimum)} item(s)`;
    case 'too_big':
      if (custom) return i.message;
      return i.origin === 'string' ? `may be at most ${String(i.maximum)} characters` : `may have at most ${String(i.maximum)} items`;
    case 'invalid_format':
      if (custom) return i.message;
      return i.format === 'datetime' ? 'must be an RFC 3339 date-time with a zone, e.g. 2026-11-23T18:00:00Z' : `must be a valid ${i.format}`;
    default:
      return i.message;
  }
}

/** A field path as kubectl prints it: spec.podSelector.matchExpressions[0].key. */
export function fieldPath(path: readonly PropertyKey[], prefix = ''): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${String(p)}]` : acc ? `${acc}.${String(p)}` : String(p)), prefix);
}

/** One line per problem, each naming its field: what a person needs to fix the grant. */
export function describeIssues(error: z.ZodError, prefix = ''): string[] {
  return fieldIssues(error).map((i) => {
    const path = fieldPath(i.path, prefix);
    return path ? `${path}: ${i.message}` : i.message;
  });
}
