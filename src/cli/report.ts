// `kubectl debuggrant report`: the after-action record of one grant, put together from the
// grant (if it still exists), the namespace's DebugGrantIndex (the operator's record of grants
// that ended, kept after the object is deleted) and, when given, the API server's audit log.
// Pure: inputs in, a report out; what no input could tell is said in `unknown`, never guessed.
import type { V1ManagedFieldsEntry } from '@kubernetes/client-node';
import type { IndexContent } from '../api/grant-index.ts';
import { REVOKED_BY_ANNOTATION, rbacName, subjectText, subjectUsername } from '../api/names.ts';
import { DebugGrantSpecSchema, type DebugGrantSpec } from '../api/schema.ts';
import { hasEnded, type DebugGrant, type DebugGrantStatus, type LingeringContainer, type SessionRecord } from '../api/types.ts';
import { findCondition } from '../controller/conditions.ts';
import { MAX_SESSIONS, commandText } from '../controller/sessions.ts';
import { actingUser, requestParams, type AuditEvent } from './audit-log.ts';

export interface ReportInput {
  namespace: string;
  name: string;
  /** The grant as the API server returns it (managedFields included); undefined when it is gone. */
  grant: DebugGrant | undefined;
  /** The namespace's index; undefined when it could not be read. */
  index: IndexContent | undefined;
  /** The API server's audit log, when given. */
  auditLog?: { files: string[]; events: AuditEvent[]; skipped: number } | undefined;
  now: Date;
}

export interface Actor {
  user: string;
  at: string;
}

export interface DebugContainerReport extends Partial<SessionRecord> {
  pod: string;
  container: string;
  /** Who added it and when the API server took the request (audit log). */
  addedBy?: Actor;
  /** Seconds between the kubelet's start and finish. */
  durationSeconds?: number;
}

export interface StreamReport {
  kind: 'exec' | 'attach' | 'portforward';
  user: string;
  pod: string;
  container?: string;
  /** exec: the command, shell-quoted. */
  command?: string;
  /** portforward: the ports asked for. */
  ports?: string;
  startedAt: string;
  /** When the stream closed (the event's ResponseComplete); absent when the log has only its start. */
  endedAt?: string;
  durationSeconds?: number;
  /** The API server's answer: 101 (stream opened) or 200 succeeded, 4xx/5xx refused or failed. */
  code?: number;
  /** How RBAC allowed it: through this grant's RoleBinding, or other access (standing). */
  via: 'grant' | 'other-rbac' | 'refused';
}

export interface RefusedRequest {
  kind: string;
  user: string;
  pod: string;
  at: string;
  code?: number;
  why: string;
}

export interface AccessReport {
  grant: string;
  uid?: string;
  /** Which records were found: the grant object, the index's entry, the audit log. */
  sources: string[];
  subject?: string;
  reason?: string;
  image?: string;
  profile?: string;
  access?: string[];
  ttl?: string;
  notAfter?: string;
  pods?: string[];
  approval?: string;
  created?: { at?: string; by?: string; fieldManager?: string; gitops?: string };
  phase?: string;
  activatedAt?: string;
  expiresAt?: string;
  endedAt?: string;
  /** How it ended: Expired (TTLElapsed / NotAfterReached), Revoked (by whom), deleted (by whom). */
  end?: { how: string; by?: string; at?: string; detail?: string };
  revocationVerified?: { ok: boolean; message: string };
  sessionCount?: number;
  debugContainers: DebugContainerReport[];
  /**
   * Sessions the grant's status records (their pod, image and time fit it) that the audit log
   * shows were added under other grants: two grants on one pod and image both record a session,
   * and only the API server's audit log knows which one admission used.
   */
  otherGrantsSessions?: (DebugContainerReport & { admittedUnder: string })[];
  streams: StreamReport[];
  refused: RefusedRequest[];
  lingering: LingeringContainer[];
  standingAccess: string[];
  /** What could not be known, plainly. */
  unknown: string[];
  auditLog?: { files: string[]; events: number; skipped: number; from?: string; to?: string };
}

const STREAMS = ['exec', 'attach', 'portforward'] as const;
type StreamKind = (typeof STREAMS)[number];
const isStream = (s: string | undefined): s is StreamKind => STREAMS.includes(s as StreamKind);
const ANNOTATION_GRANT = 'debuggrant-ephemeral-containers/grant';
const ANNOTATION_DECISION = 'debuggrant-ephemeral-containers/decision';
/** config/admission/stream-audit.yaml: the grant covering an exec, attach or port-forward. */
const STREAM_GRANT = 'debuggrant-stream-audit/grant';
const AUTHZ_REASON = 'authorization.k8s.io/reason';
const AUTHZ_DECISION = 'authorization.k8s.io/decision';

const seconds = (from: string | undefined, to: string | undefined): number | undefined => {
  if (!from || !to) return undefined;
  const d = (Date.parse(to) - Date.parse(from)) / 1000;
  return Number.isFinite(d) ? Math.round(d * 10) / 10 : undefined;
};

export function buildReport(input: ReportInput): AccessReport {
  const { namespace, name, grant, index } = input;
  const ref = `${namespace}/${name}`;
  const events = dedupe(input.auditLog?.events ?? []);
  const unknown: string[] = [];
  const sources: string[] = [];
  if (grant) sources.push('DebugGrant object');
  const ended = index?.ended.find((e) => e.grant === name);
  const activeEntry = index?.active.find((e) => e.grant === name);
  const grantEvents = events.filter(
    (e) =>
      e.objectRef?.resource === 'debuggrants' &&
      e.objectRef.apiGroup === 'debuggrant.dev' &&
      e.objectRef.namespace === namespace &&
      e.objectRef.name === name &&
      !e.objectRef.subresource,
  );
  const uid = grant?.metadata.uid ?? ended?.uid ?? activeEntry?.uid;
  const createEvent = pickCreate(grantEvents, uid);
  const created = grant ?? objectOf(createEvent?.responseObject) ?? objectOf(createEvent?.requestObject);
  if (ended || activeEntry) sources.push('DebugGrantIndex entry');
  if (input.auditLog) sources.push(`API server audit log (${String(events.length)} requests)`);
  if (!grant && !ended && !activeEntry && !createEvent) {
    unknown.push(
      `no record of ${ref}: no DebugGrant object, no entry in the namespace's DebugGrantIndex${input.auditLog ? ', no create in the audit log' : " (an ended grant's entry is kept for the operator's endedRetention; give --audit-log for older grants)"}`,
    );
  }
  if (!grant && (ended || activeEntry || createEvent)) {
    unknown.push(
      'the DebugGrant object is gone: the sessions its status recorded are gone with it' +
        (input.auditLog
          ? "; debug containers below come from the audit log (who added them and when, not the kubelet's start, finish or exit code)"
          : '; give --audit-log for the debug containers and streams'),
    );
  }
  if (index === undefined) unknown.push("the namespace's DebugGrantIndex could not be read (the operator's record of ended grants)");

  const parsed = DebugGrantSpecSchema.safeParse(created?.spec);
  const spec: DebugGrantSpec | undefined = parsed.success ? parsed.data : undefined;
  if (created && !spec) unknown.push("the grant's spec does not parse: subject, pods and image are unknown");
  const status: DebugGrantStatus = grant?.status ?? {};

  const report: AccessReport = {
    grant: ref,
    sources,
    debugContainers: [],
    streams: [],
    refused: [],
    lingering: status.lingering ?? [],
    standingAccess: [],
    unknown,
  };
  if (uid) report.uid = uid;
  if (spec) {
    Object.assign(report, {
      subject: subjectText(spec.subject),
      reason: spec.reason,
      image: spec.image,
      profile: spec.profile,
      access: spec.access,
      ttl: spec.ttl,
      ...(spec.notAfter ? { notAfter: spec.notAfter } : {}),
      ...(spec.approval ? { approval: spec.approval.ref } : {}),
    });
  }
  if (spec && !spec.approval) unknown.push('the grant names no approval (spec.approval.ref): who approved it is only the pull request that added it');
  report.created = creation(created?.metadata, createEvent);
  if (!report.created.by)
    unknown.push(
      input.auditLog
        ? 'the audit log has no create of this grant: who created it is unknown'
        : "who created the grant (the user) is in the API server's audit log: give --audit-log",
    );

  // When access held and how it ended: the status, else the index's record.
  const phase = status.phase ?? ended?.phase ?? (activeEntry ? 'Active' : undefined);
  const activatedAt = status.activatedAt ?? activeEntry?.activatedAt ?? ended?.activatedAt;
  const expiresAt = status.expiresAt ?? activeEntry?.expiresAt ?? ended?.expiresAt;
  const endedAt = status.endedAt ?? ended?.endedAt;
  Object.assign(report, {
    ...(phase ? { phase } : {}),
    ...(activatedAt ? { activatedAt } : {}),
    ...(expiresAt ? { expiresAt } : {}),
    ...(endedAt ? { endedAt } : {}),
  });
  const pods = status.pods ?? activeEntry?.pods ?? [];
  if (pods.length > 0) report.pods = pods;
  if (!activatedAt && phase !== 'Denied' && phase !== 'Pending') unknown.push('when access began is not on record');
  const deleteEvent = grantEvents.find((e) => e.verb === 'delete' && (e.responseStatus?.code ?? 0) < 300);
  const end = endOf(phase, status, deleteEvent, grantEvents);
  if (end) report.end = end;
  if (phase === 'Revoked' && !end?.by) unknown.push('who revoked the grant is not on record');
  const verified = findCondition(status.conditions, 'RevocationVerified');
  if (verified && verified.status !== 'Unknown') {
    report.revocationVerified = { ok: verified.status === 'True', message: verified.message };
    if (verified.status === 'False') report.standingAccess.push(verified.message);
  } else if (hasEnded(phase)) {
    unknown.push(
      grant
        ? 'that the access was gone after the end was not verified (no RevocationVerified condition)'
        : 'whether access was verified gone after the end (the RevocationVerified condition was on the deleted object)',
    );
  }

  // Sessions: the status's record, joined with who added each container (audit log).
  const window = { from: activatedAt, to: endedAt ?? (phase === 'Active' ? input.now.toISOString() : expiresAt) };
  const username = spec ? subjectUsername(spec.subject) : undefined;
  const isSubject = (e: AuditEvent): boolean =>
    spec?.subject.kind === 'Group' ? (e.user.groups ?? []).includes(spec.subject.name) : actingUser(e) === username;
  const viaGrant = (e: AuditEvent): boolean => (e.annotations?.[AUTHZ_REASON] ?? '').includes(`RoleBinding "${rbacName(name)}/${namespace}"`);
  const added = events.filter(
    (e) =>
      e.objectRef?.subresource === 'ephemeralcontainers' &&
      e.objectRef.namespace === namespace &&
      ((e.annotations?.[ANNOTATION_GRANT] ?? '').split(', ').includes(ref) || (viaGrant(e) && (e.responseStatus?.code ?? 0) < 300)),
  );
  const mine = (e: AuditEvent): boolean => (e.annotations?.[ANNOTATION_GRANT] ?? '').split(', ').includes(ref) || viaGrant(e);
  const addedHere = events.filter(
    (e) => e.objectRef?.subresource === 'ephemeralcontainers' && e.objectRef.namespace === namespace && (e.responseStatus?.code ?? 0) < 300,
  );
  const elsewhere = new Map<SessionRecord, AuditEvent>();
  for (const s of status.sessions ?? []) {
    const by = addedHere.findLast((e) => e.objectRef?.name === s.pod && newContainers(e).some((c) => c.name === s.container));
    if (by && !mine(by)) elsewhere.set(s, by);
  }
  report.debugContainers = debugContainers(
    (status.sessions ?? []).filter((s) => !elsewhere.has(s)),
    added,
  );
  if (elsewhere.size > 0)
    report.otherGrantsSessions = [...elsewhere].map(([s, e]) => ({
      ...s,
      addedBy: { user: actingUser(e), at: e.requestReceivedTimestamp },
      admittedUnder: e.annotations?.[ANNOTATION_GRANT] || 'no grant (other RBAC, or break-glass)',
    }));
  if (status.sessionCount !== undefined) report.sessionCount = status.sessionCount;
  if ((status.sessionCount ?? 0) > (status.sessions?.length ?? 0)) {
    unknown.push(
      `${String((status.sessionCount ?? 0) - (status.sessions?.length ?? 0))} older sessions are no longer in the status (it keeps the last ${String(MAX_SESSIONS)}): the operator's session.started audit lines have them`,
    );
  }
  for (const d of report.debugContainers) {
    if (d.startedAt && !d.finishedAt)
      unknown.push(`${d.pod}/${d.container}: no finish on record (still running, or its pod went before the kubelet reported the end)`);
  }

  // exec / attach / port-forward: through this grant's RoleBinding, named by the stream-audit policy, or by the subject on its pods while it held access.
  const inWindow = (e: AuditEvent): boolean =>
    window.from !== undefined && e.requestReceivedTimestamp >= window.from && (!window.to || e.requestReceivedTimestamp <= window.to);
  const onPods = (e: AuditEvent): boolean => pods.includes(e.objectRef?.name ?? '') || report.debugContainers.some((d) => d.pod === e.objectRef?.name);
  for (const e of events) {
    const kind = e.objectRef?.subresource;
    if (!isStream(kind) || e.objectRef?.namespace !== namespace) continue;
    const named = (e.annotations?.[STREAM_GRANT] ?? '').split(', ').includes(ref);
    if (!viaGrant(e) && !named && !(isSubject(e) && onPods(e) && inWindow(e))) continue;
    const stream = streamOf(kind, e, viaGrant(e));
    if (stream.via === 'refused')
      report.refused.push({
        kind,
        user: stream.user,
        pod: stream.pod,
        at: stream.startedAt,
        ...(stream.code !== undefined ? { code: stream.code } : {}),
        why: refusal(e),
      });
    else report.streams.push(stream);
    if (stream.via === 'other-rbac')
      report.standingAccess.push(
        `${stream.user} used ${kind} on ${stream.pod} at ${stream.startedAt} through other RBAC: ${e.annotations?.[AUTHZ_REASON] ?? ''}`,
      );
  }
  // Debug containers refused to the subject on the grant's pods since access began (during it, or after the end).
  for (const e of events) {
    if (e.objectRef?.subresource !== 'ephemeralcontainers' || e.objectRef.namespace !== namespace || (e.responseStatus?.code ?? 0) < 400) continue;
    if (!isSubject(e) || !onPods(e) || window.from === undefined || e.requestReceivedTimestamp < window.from) continue;
    report.refused.push({
      kind: 'debug',
      user: actingUser(e),
      pod: e.objectRef.name ?? '',
      at: e.requestReceivedTimestamp,
      ...(e.responseStatus?.code !== undefined ? { code: e.responseStatus.code } : {}),
      why: refusal(e),
    });
  }
  report.refused.sort((a, b) => a.at.localeCompare(b.at));

  if (input.auditLog) {
    const times = events.map((e) => e.requestReceivedTimestamp).sort();
    report.auditLog = {
      files: input.auditLog.files,
      events: events.length,
      skipped: input.auditLog.skipped,
      ...(times.length > 0 ? { from: times[0], to: times[times.length - 1] } : {}),
    };
    if (window.from && (times.length === 0 || (times[0] ?? '') > window.from))
      unknown.push(
        `the audit log given starts ${times[0] ? `at ${times[0]}` : 'nowhere (no events)'}, after access began (${window.from}): requests before that are not in it`,
      );
    if (window.to && times.length > 0 && (times[times.length - 1] ?? '') < window.to)
      unknown.push(`the audit log given ends at ${times[times.length - 1] ?? ''}, before access ended (${window.to}): requests after that are not in it`);
    if (input.auditLog.skipped > 0) unknown.push(`${String(input.auditLog.skipped)} lines of the audit log were not audit events and were skipped`);
  } else if (activatedAt) {
    unknown.push("exec, attach and port-forward requests, and who added each debug container, are in the API server's audit log: give --audit-log FILE...");
  }
  if (spec?.subject.kind === 'Group')
    unknown.push(`the subject is a group: requests are matched by the group membership the audit log records (user.groups includes ${spec.subject.name})`);
  return report;
}

/** One event per request: the stream's ResponseComplete when there is one (its end), else its start. */
function dedupe(events: readonly AuditEvent[]): AuditEvent[] {
  const byId = new Map<string, AuditEvent>();
  for (const e of events) {
    const seen = byId.get(e.auditID);
    if (!seen || e.stage === 'ResponseComplete')
      byId.set(e.auditID, seen && e.stage === 'ResponseComplete' ? { ...e, requestReceivedTimestamp: seen.requestReceivedTimestamp } : e);
  }
  return [...byId.values()].sort((a, b) => a.requestReceivedTimestamp.localeCompare(b.requestReceivedTimestamp));
}

interface ObjectLike {
  metadata?: {
    uid?: string;
    creationTimestamp?: string | Date;
    managedFields?: V1ManagedFieldsEntry[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: unknown;
}

function objectOf(v: unknown): ObjectLike | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

/** The create of this grant (of its uid when known: a re-applied copy has the same name). */
function pickCreate(events: readonly AuditEvent[], uid: string | undefined): AuditEvent | undefined {
  const creates = events.filter((e) => e.verb === 'create' && (e.responseStatus?.code ?? 0) < 300);
  return creates.find((e) => objectOf(e.responseObject)?.metadata?.uid === uid) ?? (uid ? undefined : creates[creates.length - 1]);
}

function creation(meta: ObjectLike['metadata'], createEvent: AuditEvent | undefined): NonNullable<AccessReport['created']> {
  const out: NonNullable<AccessReport['created']> = {};
  const at = meta?.creationTimestamp ?? createEvent?.requestReceivedTimestamp;
  if (at) out.at = typeof at === 'string' ? at : new Date(at).toISOString();
  if (createEvent) out.by = actingUser(createEvent);
  // The field manager of the create names the tool (kubectl, argocd-controller, kustomize-controller), not the user.
  const first = meta?.managedFields?.find((m) => m.operation === 'Update' || m.operation === 'Apply');
  if (first?.manager) out.fieldManager = first.manager;
  const labels = meta?.labels ?? {};
  const annotations = meta?.annotations ?? {};
  const argo = annotations['argocd.argoproj.io/tracking-id'] ?? labels['app.kubernetes.io/instance'];
  const flux = labels['kustomize.toolkit.fluxcd.io/name']
    ? `Flux Kustomization ${labels['kustomize.toolkit.fluxcd.io/namespace'] ?? ''}/${labels['kustomize.toolkit.fluxcd.io/name']}`
    : undefined;
  const gitops = flux ?? (annotations['argocd.argoproj.io/tracking-id'] ? `Argo CD ${argo ?? ''}` : undefined);
  if (gitops) out.gitops = gitops;
  return out;
}

function endOf(
  phase: string | undefined,
  status: DebugGrantStatus,
  deleteEvent: AuditEvent | undefined,
  grantEvents: readonly AuditEvent[],
): AccessReport['end'] {
  const deleted = deleteEvent ? { by: actingUser(deleteEvent), at: deleteEvent.requestReceivedTimestamp } : undefined;
  if (phase === 'Expired') {
    const reason = findCondition(status.conditions, 'Expired')?.reason;
    return {
      how: reason === 'NotAfterReached' ? 'expired (notAfter reached)' : reason === 'Deleted' ? 'deleted while active' : 'expired (ttl elapsed)',
      ...(status.endedAt ? { at: status.endedAt } : {}),
      ...(deleted ? { detail: `object deleted by ${deleted.by} at ${deleted.at}` } : {}),
    };
  }
  if (phase === 'Revoked') {
    // The patch that asked for it (`kubectl debuggrant revoke`): admission made the annotation the requester's own name.
    const request = grantEvents.find(
      (e) =>
        e.verb === 'patch' && (e.responseStatus?.code ?? 0) < 300 && objectOf(e.requestObject)?.metadata?.annotations?.[REVOKED_BY_ANNOTATION] !== undefined,
    );
    const by = status.revokedBy ?? (request ? actingUser(request) : undefined) ?? deleted?.by;
    const how = status.revokedBy || request ? 'revoked on request' : deleted ? 'deleted while active' : 'revoked';
    return {
      how,
      ...(by ? { by } : {}),
      ...(status.endedAt ? { at: status.endedAt } : request ? { at: request.requestReceivedTimestamp } : {}),
      ...(findCondition(status.conditions, 'Revoked')?.message ? { detail: findCondition(status.conditions, 'Revoked')?.message } : {}),
    };
  }
  if (phase === 'Denied') return { how: 'denied', detail: findCondition(status.conditions, 'Denied')?.message ?? '' };
  if (deleted) return { how: 'object deleted', by: deleted.by, at: deleted.at };
  return undefined;
}

/** The ephemeral containers a request added: a PUT or merge patch carries every container; the new one is the last. */
function newContainers(e: AuditEvent): EphemeralLike[] {
  const containers = ephemeralIn(e.requestObject);
  return containers.length > 1 ? containers.slice(-1) : containers;
}

function debugContainers(sessions: readonly SessionRecord[], added: readonly AuditEvent[]): DebugContainerReport[] {
  const out: DebugContainerReport[] = sessions.map((s) => ({ ...s, ...(s.finishedAt ? { durationSeconds: seconds(s.startedAt, s.finishedAt) } : {}) }));
  for (const e of added) {
    const pod = e.objectRef?.name ?? '';
    for (const c of newContainers(e)) {
      const addedBy = { user: actingUser(e), at: e.requestReceivedTimestamp };
      const known = out.find((d) => d.pod === pod && d.container === c.name);
      if (known) {
        known.addedBy = addedBy;
        continue;
      }
      const command = commandText(c.command, c.args);
      out.push({
        pod,
        container: c.name,
        ...(c.image ? { image: c.image } : {}),
        ...(c.targetContainerName ? { target: c.targetContainerName } : {}),
        ...(command ? { command } : {}),
        addedBy,
      });
    }
  }
  return out.sort((a, b) => (a.startedAt ?? a.addedBy?.at ?? '').localeCompare(b.startedAt ?? b.addedBy?.at ?? ''));
}

interface EphemeralLike {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  targetContainerName?: string;
}

function ephemeralIn(body: unknown): EphemeralLike[] {
  const spec = objectOf(body)?.spec as { ephemeralContainers?: unknown } | undefined;
  const list = Array.isArray(spec?.ephemeralContainers) ? (spec.ephemeralContainers as unknown[]) : [];
  return list.filter((c): c is EphemeralLike => objectOf(c) !== undefined && typeof (c as { name?: unknown }).name === 'string');
}

function streamOf(kind: StreamKind, e: AuditEvent, throughGrant: boolean): StreamReport {
  const params = requestParams(e);
  const words = params.getAll('command');
  const command = words.length > 0 ? commandText(words, undefined) : undefined;
  const code = e.responseStatus?.code;
  const refused = e.annotations?.[AUTHZ_DECISION] === 'forbid' || (code !== undefined && code >= 400);
  const endedAt = e.stage === 'ResponseComplete' ? e.stageTimestamp : undefined;
  return {
    kind,
    user: actingUser(e),
    pod: e.objectRef?.name ?? '',
    startedAt: e.requestReceivedTimestamp,
    ...(params.get('container') ? { container: params.get('container') ?? '' } : {}),
    ...(command ? { command } : {}),
    ...(params.getAll('ports').length > 0 ? { ports: params.getAll('ports').join(',') } : {}),
    ...(endedAt ? { endedAt, durationSeconds: seconds(e.requestReceivedTimestamp, endedAt) } : {}),
    ...(code !== undefined ? { code } : {}),
    via: refused ? 'refused' : throughGrant ? 'grant' : 'other-rbac',
  };
}

function refusal(e: AuditEvent): string {
  const a = e.annotations ?? {};
  if (a[AUTHZ_DECISION] === 'forbid') return 'RBAC forbade it';
  const failure = a['validation.policy.admission.k8s.io/validation_failure'];
  if (failure) {
    try {
      const first = (JSON.parse(failure) as { message?: string }[])[0];
      if (first?.message) return `admission: ${first.message}`;
    } catch {
      /* not JSON: shown as it is */
    }
    return `admission: ${failure}`;
  }
  if (a[ANNOTATION_DECISION]) return `admission: ${a[ANNOTATION_DECISION]}`;
  return e.responseStatus?.message ?? `HTTP ${String(e.responseStatus?.code ?? '')}`;
}
