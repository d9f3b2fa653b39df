// The kube-apiserver's audit log (JSON lines of audit.k8s.io/v1 Event, --audit-log-path), as far
// as the access report reads it. Pure: text in, events out; lines that are not audit events (a
// truncated last line, another log mixed in) are counted, never guessed at.
import * as z from 'zod';

const AuditEventSchema = z
  .object({
    kind: z.literal('Event'),
    auditID: z.string(),
    stage: z.string(),
    requestURI: z.string(),
    verb: z.string(),
    user: z.object({ username: z.string().default(''), groups: z.array(z.string()).optional() }).loose(),
    impersonatedUser: z
      .object({ username: z.string().default('') })
      .loose()
      .optional(),
    sourceIPs: z.array(z.string()).optional(),
    userAgent: z.string().optional(),
    objectRef: z
      .object({
        resource: z.string().optional(),
        namespace: z.string().optional(),
        name: z.string().optional(),
        subresource: z.string().optional(),
        apiGroup: z.string().optional(),
      })
      .loose()
      .optional(),
    responseStatus: z.object({ code: z.number().optional(), message: z.string().optional(), reason: z.string().optional() }).loose().optional(),
    requestObject: z.unknown().optional(),
    responseObject: z.unknown().optional(),
    requestReceivedTimestamp: z.string(),
    stageTimestamp: z.string(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

export type AuditEvent = z.infer<typeof AuditEventSchema>;

export interface ParsedAuditLog {
  events: AuditEvent[];
  /** Lines that were not audit events. */
  skipped: number;
}

export function parseAuditLog(text: string): ParsedAuditLog {
  const events: AuditEvent[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    const parsed = AuditEventSchema.safeParse(json);
    if (parsed.success) events.push(parsed.data);
    else skipped++;
  }
  return { events, skipped };
}

/** Who acted: the impersonated user when an admin impersonated someone, else the authenticated one. */
export const actingUser = (e: AuditEvent): string => e.impersonatedUser?.username || e.user.username;

/** The query parameters of the request (exec's command=… repeats, one per word). */
export function requestParams(e: AuditEvent): URLSearchParams {
  const q = e.requestURI.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : e.requestURI.slice(q + 1));
}
