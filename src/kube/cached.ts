// What the informer caches keep of each object: only the fields the operator reads, picked
// as objects arrive (list pages and watch events), as client-go's SetTransform does. A pod
// is 3-5 KB on the wire, most of it containers, env, volumes and status the operator never
// looks at; kept whole, 50,000 of them cost over a gigabyte. Reading a field that is not
// kept here means adding it here (test/unit/cached.test.ts lists the kept set).
import type { V1RoleRef, RbacV1Subject } from '@kubernetes/client-node';
import { contentDigest } from '../api/equal.ts';
import type { DebugGrantHistory, DebugGrantIndex } from '../api/grant-index.ts';
import type { DebugGrant } from '../api/types.ts';
import { ValuePool, shareVocabulary, vocabulary } from './shared-strings.ts';

type Json = Record<string, unknown>;

const OUR_PREFIX = 'debuggrant.dev/';

export interface CachedMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  /** Only the operator's own (`debuggrant.dev/…`): others, such as kubectl's last-applied copy, can be large. */
  annotations?: Record<string, string>;
}

export interface CachedOwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface CachedEphemeralContainer {
  name: string;
  image?: string;
  securityContext?: Json;
  /** What it runs and which container it targets: the session record (controller/sessions.ts). */
  command?: string[];
  args?: string[];
  targetContainerName?: string;
}

export interface CachedContainerState {
  running?: { startedAt?: string };
  waiting?: { reason?: string };
  terminated?: { reason?: string; exitCode?: number; startedAt?: string; finishedAt?: string };
}

export interface CachedEphemeralStatus {
  name: string;
  image: string;
  state?: CachedContainerState;
}

export interface CachedPod {
  /** `generation` rises with every change of the spec (an ephemeral container added included); 1 at creation. */
  metadata?: CachedMeta & { ownerReferences?: CachedOwnerReference[]; deletionTimestamp?: string; generation?: number };
  spec?: { hostNetwork?: boolean; hostPID?: boolean; hostIPC?: boolean; ephemeralContainers?: CachedEphemeralContainer[] };
  status?: { phase?: string; ephemeralContainerStatuses?: CachedEphemeralStatus[] };
}

/** Roles and RoleBindings keep their owner: one owned by another uid than the grant's is a predecessor's leftover. */
type OwnedMeta = CachedMeta & { ownerReferences?: CachedOwnerReference[] };

/**
 * The rules as a digest: the operator only compares them with the rules it wants (two to
 * four rules of four lists each, ~0.7 KB of heap per Role, kept whole 7 MB at 10,000 grants).
 */
export interface CachedRole {
  metadata?: OwnedMeta;
  rulesDigest: string;
}

export interface CachedRoleBinding {
  metadata?: OwnedMeta;
  roleRef: V1RoleRef;
  subjects?: RbacV1Subject[];
}

const asObject = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Copies only the listed keys that are present (so absent stays absent, not `undefined`). */
function pick<K extends string>(from: Json | undefined, keys: readonly K[]): Partial<Record<K, unknown>> {
  const out: Partial<Record<K, unknown>> = {};
  if (!from) return out;
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out;
}

/** Values go through the shared pool: label values (app, tier, pod-template-hash) repeat across many objects. */
function stringMap(v: unknown, keep: (key: string) => boolean = () => true): Record<string, string> | undefined {
  const from = asObject(v);
  if (!from) return undefined;
  const out: Record<string, string> = {};
  let any = false;
  for (const [k, val] of Object.entries(from)) {
    if (typeof val === 'string' && keep(k)) {
      out[k] = vocabulary.share(val);
      any = true;
    }
  }
  return any ? out : undefined;
}

function meta(raw: Json | undefined, withLabels: boolean): CachedMeta {
  const m = asObject(raw?.metadata);
  const out: CachedMeta = pick(m, ['name', 'uid', 'resourceVersion']) as CachedMeta;
  // Every object of a namespace names it: one copy for all.
  const namespace = asString(m?.namespace);
  if (namespace !== undefined) out.namespace = vocabulary.share(namespace);
  const labels = withLabels ? stringMap(m?.labels) : undefined;
  if (labels) out.labels = labels;
  const annotations = stringMap(m?.annotations, (k) => k.startsWith(OUR_PREFIX));
  if (annotations) out.annotations = annotations;
  return out;
}

function ownedMeta(o: Json | undefined): OwnedMeta {
  const out: OwnedMeta = meta(o, true);
  const owners = nonEmpty(
    asArray(asObject(o?.metadata)?.ownerReferences).map((r) =>
      shareVocabulary(pick(asObject(r), ['apiVersion', 'kind', 'name', 'uid', 'controller']) as CachedOwnerReference),
    ),
  );
  if (owners) out.ownerReferences = owners;
  return out;
}

function nonEmpty<T>(xs: T[]): T[] | undefined {
  return xs.length > 0 ? xs : undefined;
}

function containerState(v: unknown): CachedContainerState | undefined {
  const s = asObject(v);
  if (!s) return undefined;
  const out: CachedContainerState = {};
  if (asObject(s.running)) out.running = pick(asObject(s.running), ['startedAt']) as CachedContainerState['running'];
  if (asObject(s.waiting)) out.waiting = pick(asObject(s.waiting), ['reason']) as CachedContainerState['waiting'];
  if (asObject(s.terminated))
    out.terminated = pick(asObject(s.terminated), ['reason', 'exitCode', 'startedAt', 'finishedAt']) as CachedContainerState['terminated'];
  return out;
}

/** Label sets and owner lists: every pod of a ReplicaSet (Job, StatefulSet…) has the same ones. */
const podLabels = new ValuePool<Record<string, string>>();
const podOwners = new ValuePool<CachedOwnerReference[]>();

/** Label keys and values cannot hold `=` or a newline (both are validated by the API server), so this key is unambiguous. */
const labelsKey = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');

const ownersKey = (owners: CachedOwnerReference[]): string => JSON.stringify(owners.map((r) => [r.apiVersion, r.kind, r.name, r.uid, r.controller]));

/** A pod's metadata, from a whole pod or a PartialObjectMetadata (what the pod informer watches). */
export function cachedPodMetadata(raw: unknown): CachedPod {
  const o = asObject(raw);
  const m = asObject(o?.metadata);
  const metadata: NonNullable<CachedPod['metadata']> = ownedMeta(o);
  if (metadata.labels) metadata.labels = podLabels.share(labelsKey(metadata.labels), metadata.labels);
  if (metadata.ownerReferences) metadata.ownerReferences = podOwners.share(ownersKey(metadata.ownerReferences), metadata.ownerReferences);
  const deletion = asString(m?.deletionTimestamp);
  if (deletion) metadata.deletionTimestamp = deletion;
  if (typeof m?.generation === 'number') metadata.generation = m.generation;
  return { metadata };
}

const sameStrings = (a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean => {
  const ka = Object.keys(a ?? {});
  return ka.length === Object.keys(b ?? {}).length && ka.every((k) => a?.[k] === b?.[k]);
};

/**
 * Two cached forms of one pod's metadata that differ at most in resourceVersion: what a status
 * write (a kubelet's probe, restart or IP) looks like to a metadata watch.
 */
export function sameApartFromVersion(a: CachedPod, b: CachedPod): boolean {
  const [ma, mb] = [a.metadata, b.metadata];
  const ownersA = ma?.ownerReferences ?? [];
  const ownersB = mb?.ownerReferences ?? [];
  return (
    ma?.name === mb?.name &&
    ma?.namespace === mb?.namespace &&
    ma?.uid === mb?.uid &&
    ma?.generation === mb?.generation &&
    ma?.deletionTimestamp === mb?.deletionTimestamp &&
    sameStrings(ma?.labels, mb?.labels) &&
    sameStrings(ma?.annotations, mb?.annotations) &&
    ownersA.length === ownersB.length &&
    ownersA.every((o, i) => {
      const p = ownersB[i];
      return o.uid === p?.uid && o.name === p.name && o.kind === p.kind && o.apiVersion === p.apiVersion && o.controller === p.controller;
    }) &&
    a.spec === undefined &&
    b.spec === undefined &&
    a.status === undefined &&
    b.status === undefined
  );
}

/** A whole pod (pod-details.ts reads those whose spec changed): its metadata, host flags, ephemeral containers, phase. */
export function cachedPod(raw: unknown): CachedPod {
  const o = asObject(raw);
  const spec = asObject(o?.spec);
  const status = asObject(o?.status);
  const pod = cachedPodMetadata(raw);
  const hostFlags = pick(spec, ['hostNetwork', 'hostPID', 'hostIPC']);
  const ephemeral = nonEmpty(
    asArray(spec?.ephemeralContainers).map(
      (c) => pick(asObject(c), ['name', 'image', 'securityContext', 'command', 'args', 'targetContainerName']) as CachedEphemeralContainer,
    ),
  );
  if (ephemeral || Object.keys(hostFlags).length > 0)
    pod.spec = { ...hostFlags, ...(ephemeral ? { ephemeralContainers: ephemeral } : {}) } as CachedPod['spec'];
  const statuses = nonEmpty(
    asArray(status?.ephemeralContainerStatuses).map((c) => {
      const s = asObject(c);
      const state = containerState(s?.state);
      return { ...(pick(s, ['name', 'image']) as { name: string; image: string }), ...(state ? { state } : {}) };
    }),
  );
  const phase = asString(status?.phase);
  if (phase || statuses) pod.status = { ...(phase ? { phase: vocabulary.share(phase) } : {}), ...(statuses ? { ephemeralContainerStatuses: statuses } : {}) };
  return pod;
}

export function cachedRole(raw: unknown): CachedRole {
  const o = asObject(raw);
  return { metadata: ownedMeta(o), rulesDigest: contentDigest(asArray(o?.rules)) };
}

export function cachedRoleBinding(raw: unknown): CachedRoleBinding {
  const o = asObject(raw);
  return {
    metadata: ownedMeta(o),
    roleRef: shareVocabulary(asObject(o?.roleRef)) as unknown as V1RoleRef,
    subjects: shareVocabulary(asArray(o?.subjects)) as RbacV1Subject[],
  };
}

/**
 * Grants keep spec and status whole (both small, both read), with their vocabulary (image,
 * profile, condition types and reasons…) shared; metadata loses what nothing reads.
 */
export function cachedGrant(raw: unknown): DebugGrant {
  const o = asObject(raw);
  const m = asObject(o?.metadata);
  const metadata = { ...meta(o, false), ...shareVocabulary(pick(m, ['generation', 'creationTimestamp', 'deletionTimestamp', 'finalizers'])) };
  return { ...shareVocabulary(pick(o, ['apiVersion', 'kind', 'spec', 'status'])), metadata } as DebugGrant;
}

export function cachedIndex(raw: unknown): DebugGrantIndex {
  const o = asObject(raw);
  return { ...shareVocabulary(pick(o, ['apiVersion', 'kind', 'active', 'ended'])), metadata: meta(o, false) } as DebugGrantIndex;
}

export function cachedHistory(raw: unknown): DebugGrantHistory {
  const o = asObject(raw);
  return { ...shareVocabulary(pick(o, ['apiVersion', 'kind', 'ended'])), metadata: meta(o, false) } as DebugGrantHistory;
}

/** A grant's timer Job (src/revocation/timer-job.ts): its owner, its deadline and whether it started or fired. */
export interface CachedTimer {
  metadata: OwnedMeta & { creationTimestamp?: string; deletionTimestamp?: string };
  activeDeadlineSeconds?: number;
  /** Set by the Job controller at its first sync (whole seconds): the deadline counts from it. */
  startTime?: string;
  /** Failed or Complete, or their interim FailureTarget / SuccessCriteriaMet: the timer has fired. */
  finished?: boolean;
}

/** Watched objects carry times as strings; the generated client's answers as Dates. */
const timeString = (v: unknown): string | undefined => (v instanceof Date ? v.toISOString().replace('.000Z', 'Z') : asString(v));

const FINISHED_CONDITIONS = new Set(['Failed', 'Complete', 'FailureTarget', 'SuccessCriteriaMet']);

export function cachedTimer(raw: unknown): CachedTimer {
  const o = asObject(raw);
  const m = asObject(o?.metadata);
  const status = asObject(o?.status);
  const metadata: CachedTimer['metadata'] = ownedMeta(o);
  const created = timeString(m?.creationTimestamp);
  if (created) metadata.creationTimestamp = created;
  const deletion = timeString(m?.deletionTimestamp);
  if (deletion) metadata.deletionTimestamp = deletion;
  const timer: CachedTimer = { metadata };
  const deadline = asObject(o?.spec)?.activeDeadlineSeconds;
  if (typeof deadline === 'number') timer.activeDeadlineSeconds = deadline;
  const startTime = timeString(status?.startTime);
  if (startTime) timer.startTime = startTime;
  if (asArray(status?.conditions).some((c) => FINISHED_CONDITIONS.has(asString(asObject(c)?.type) ?? '') && asObject(c)?.status === 'True'))
    timer.finished = true;
  return timer;
}
