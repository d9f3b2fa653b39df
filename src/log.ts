// pino JSON logs. Audit lines have one fixed shape so a SIEM can parse them without guessing.
import pino, { type Logger } from 'pino';
import type { SessionRecord } from './api/types.ts';

export type { Logger };

export function makeLogger(level = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { component: 'debuggrant' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Bearer tokens and kubeconfig secrets must never reach a log line.
      redact: { paths: ['*.token', '*.headers.authorization', '*.authorization', 'token', 'password'], remove: true },
    },
    destination,
  );
}

export type AuditEvent =
  | 'grant.activated'
  | 'grant.pods-changed'
  | 'grant.expired'
  | 'grant.revoked'
  | 'grant.denied'
  | 'grant.revocation-verified'
  | 'grant.standing-access'
  | 'pod.lingering'
  | 'pod.evicted'
  | 'session.started'
  | 'session.ended';

export interface AuditRecord {
  event: AuditEvent;
  grant: string;
  subject: string;
  pods: string[];
  by: string;
  at: string;
  reason: string;
  /** session.started / session.ended: the debug container, as recorded in the grant's status. */
  session?: SessionRecord;
}

export function audit(log: Logger, record: AuditRecord): void {
  log.info({ audit: record }, `audit ${record.event} ${record.grant}`);
}
