// What the overload bench reads to tell what a revocation's lateness is made of: the API
// server's own APF figures (queue wait and rejections per priority level, from its /metrics),
// the operator's (its RoleBinding deletes by answer, its event-loop lag, replaced connections)
// and the kernel's (how long each process's main thread waited for a CPU: /proc/PID/schedstat).
// Each is a snapshot; a phase reports the difference between two.
import { readFileSync, readdirSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import type { PlaneState } from '../hack/controlplane/plane.ts';

/** One Prometheus sample: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const m of text.matchAll(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ([^\s]+)/gm)) {
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return samples;
}

const sum = (samples: Sample[], name: string, match: (l: Record<string, string>) => boolean = () => true): number =>
  samples.filter((s) => s.name === name && match(s.labels)).reduce((t, s) => t + s.value, 0);

/** A histogram's count, sum and cumulative buckets (upper bound → count), summed over matching series. */
interface Histogram {
  count: number;
  sum: number;
  buckets: Map<number, number>;
}

function histogram(samples: Sample[], name: string, match: (l: Record<string, string>) => boolean): Histogram {
  const buckets = new Map<number, number>();
  for (const s of samples)
    if (s.name === `${name}_bucket` && match(s.labels)) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + s.value);
    }
  return { count: sum(samples, `${name}_count`, match), sum: sum(samples, `${name}_sum`, match), buckets };
}

function minus(a: Histogram, b: Histogram): Histogram {
  return { count: a.count - b.count, sum: a.sum - b.sum, buckets: new Map([...a.buckets].map(([le, n]) => [le, n - (b.buckets.get(le) ?? 0)])) };
}

/** The bucket bound (seconds) at or below which `q` of the observations fall: an upper bound on the quantile. */
function quantileBound(h: Histogram, q: number): number {
  const need = q * h.count;
  for (const [le, n] of [...h.buckets].sort((x, y) => x[0] - y[0])) if (n >= need) return le;
  return NaN;
}

export interface WaitFigures {
  requests: number;
  meanMs: number;
  /** Upper bound of the p99 from the histogram's buckets. */
  p99BoundMs: number;
}

function waitFigures(h: Histogram): WaitFigures {
  return { requests: h.count, meanMs: h.count ? (h.sum / h.count) * 1000 : NaN, p99BoundMs: quantileBound(h, 0.99) * 1000 };
}

const APF_WAIT = 'apiserver_flowcontrol_request_wait_duration_seconds';

export interface ApfSnapshot {
  samples: Sample[];
}

export async function apfSnapshot(state: PlaneState): Promise<ApfSnapshot> {
  const agent = new Agent({ connect: { ca: readFileSync(state.caFile) } });
  try {
    const res = await fetch(`${state.server}/metrics`, { dispatcher: agent, headers: { authorization: `Bearer ${state.tokens.admin ?? ''}` } });
    return { samples: parseSamples(await res.text()) };
  } finally {
    await agent.close();
  }
}

/** Per priority level between two snapshots: queue wait of the requests that were executed, and rejections (429s). */
export function apfBetween(before: ApfSnapshot, after: ApfSnapshot, levels: string[]): Record<string, WaitFigures & { rejected: number }> {
  const out: Record<string, WaitFigures & { rejected: number }> = {};
  for (const level of levels) {
    const match = (l: Record<string, string>) => l.priority_level === level && l.execute !== 'false';
    const wait = minus(histogram(after.samples, APF_WAIT, match), histogram(before.samples, APF_WAIT, match));
    const rejected = (s: Sample[]) => sum(s, 'apiserver_flowcontrol_rejected_requests_total', (l) => l.priority_level === level);
    out[level] = { ...waitFigures(wait), rejected: rejected(after.samples) - rejected(before.samples) };
  }
  return out;
}

export interface OperatorSnapshot {
  samples: Sample[];
  /** "replaced the connection to the API server" lines in its log so far. */
  replacedConnections: number;
  /** Nanoseconds its main thread (the event loop) ran, and waited on a run queue for a CPU. */
  ranNs: number;
  waitedNs: number;
}

/** /proc/PID/schedstat of the main thread: time on a CPU, time runnable but waiting for one (ns). */
export function schedstat(pid: number, file = `/proc/${String(pid)}/schedstat`): { ranNs: number; waitedNs: number } {
  const [ran = 0, waited = 0] = readFileSync(file, 'utf8').trim().split(' ').map(Number);
  return { ranNs: ran, waitedNs: waited };
}

/** The same, summed over all of a process's threads (the API server's goroutines run on many). */
export function threadsSchedstat(pid: number): { ranNs: number; waitedNs: number } {
  const total = { ranNs: 0, waitedNs: 0 };
  for (const task of readdirSync(`/proc/${String(pid)}/task`)) {
    try {
      const t = schedstat(Number(task), `/proc/${String(pid)}/task/${task}/schedstat`);
      total.ranNs += t.ranNs;
      total.waitedNs += t.waitedNs;
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

export async function operatorSnapshot(metricsUrl: string, logFile: string, pid: number): Promise<OperatorSnapshot> {
  const samples = parseSamples(await scrape(metricsUrl));
  const replacedConnections = readFileSync(logFile, 'utf8').split('replaced the connection to the API server').length - 1;
  return { samples, replacedConnections, ...schedstat(pid) };
}

/** The operator's metrics; a starved process may be slow to answer, so a few tries before giving up. */
async function scrape(url: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(url, { signal: AbortSignal.timeout(30_000) })).text();
    } catch (err) {
      if (attempt >= 5) throw new Error(`the operator's metrics (${url}) did not answer`, { cause: err });
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

const DELETE_OP = 'deleteNamespacedRoleBinding';

export interface OperatorFigures {
  /** RoleBinding delete attempts, by answer ("2xx", "404", "network" for a timeout or lost connection…). */
  deletes: Record<string, number>;
  deleteMeanMs: number;
  /** nodejs_eventloop_lag_p99 / max at the end of the phase (prom-client resets them at each scrape). */
  eventLoopLagP99Ms: number;
  eventLoopLagMaxMs: number;
  replacedConnections: number;
  cpuMs: number;
  runQueueWaitMs: number;
}

export function operatorBetween(before: OperatorSnapshot, after: OperatorSnapshot): OperatorFigures {
  const name = 'debuggrant_api_request_duration_seconds';
  const codes = new Set(after.samples.filter((s) => s.name === `${name}_count` && s.labels.operation === DELETE_OP).map((s) => s.labels.code ?? ''));
  const deletes: Record<string, number> = {};
  for (const code of codes) {
    const n = (s: Sample[]) => sum(s, `${name}_count`, (l) => l.operation === DELETE_OP && l.code === code);
    const d = n(after.samples) - n(before.samples);
    if (d) deletes[code] = d;
  }
  const all = minus(
    histogram(after.samples, name, (l) => l.operation === DELETE_OP),
    histogram(before.samples, name, (l) => l.operation === DELETE_OP),
  );
  const gauge = (n: string) => sum(after.samples, n) * 1000;
  return {
    deletes,
    deleteMeanMs: all.count ? (all.sum / all.count) * 1000 : NaN,
    eventLoopLagP99Ms: gauge('nodejs_eventloop_lag_p99_seconds'),
    eventLoopLagMaxMs: gauge('nodejs_eventloop_lag_max_seconds'),
    replacedConnections: after.replacedConnections - before.replacedConnections,
    cpuMs: (after.ranNs - before.ranNs) / 1e6,
    runQueueWaitMs: (after.waitedNs - before.waitedNs) / 1e6,
  };
}

/** One RoleBinding's DELETE requests by one user, from the API server's audit log (config/audit/policy.yaml logs RBAC writes). */
export interface DeleteRequests {
  /** When the API server received each attempt (epoch ms), in order. */
  received: number[];
  /** The attempt that deleted it (200): received, and answered (its ResponseComplete stage). */
  deleted?: { received: number; answered: number };
}

interface AuditEvent {
  verb?: string;
  stage?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
}

/** DELETEs of RoleBindings by `username`, by "namespace/name". */
export function roleBindingDeletes(auditLog: string, username: string): Map<string, DeleteRequests> {
  const out = new Map<string, DeleteRequests>();
  for (const line of readFileSync(auditLog, 'utf8').split('\n')) {
    if (!line.includes('"rolebindings"') || !line.includes('"delete"')) continue;
    const e = JSON.parse(line) as AuditEvent;
    if (e.verb !== 'delete' || e.stage !== 'ResponseComplete' || e.objectRef?.resource !== 'rolebindings' || e.user?.username !== username) continue;
    const key = `${e.objectRef.namespace ?? ''}/${e.objectRef.name ?? ''}`;
    const entry = out.get(key) ?? { received: [] };
    const received = Date.parse(e.requestReceivedTimestamp ?? '');
    entry.received.push(received);
    entry.received.sort((a, b) => a - b);
    if (e.responseStatus?.code === 200 && !entry.deleted) entry.deleted = { received, answered: Date.parse(e.stageTimestamp ?? '') };
    out.set(key, entry);
  }
  return out;
}
