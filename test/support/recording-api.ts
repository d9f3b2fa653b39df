// A recording client for unit tests of the reconcile and revocation paths (sample-controller's
// fake clientset, cert-manager's testpkg): it keeps the objects it is given and written in a
// small store, serves the informers' caches from it (through the real cache transforms), and
// records every request as "verb resource namespace/name", in order. It decides nothing the API
// server decides: SubjectAccessReview answers and refusals are what the test says they are;
// the integration tests check the real API server agrees.
import type { V1Role, V1RoleBinding } from '@kubernetes/client-node';
import { ApiError } from '../../src/kube/api-error.ts';
import { INDEX_NAME } from '../../src/api/names.ts';
import type { DebugGrant } from '../../src/api/types.ts';
import { cachedGrant, cachedHistory, cachedIndex, cachedPod, cachedRole, cachedRoleBinding, cachedTimer } from '../../src/kube/cached.ts';
import type { KubeApi } from '../../src/kube/client.ts';
import type { GrantCaches } from '../../src/controller/grant-parts.ts';
import type { Cache } from '../../src/runtime/cache.ts';

type Stored = Record<string, unknown> & { metadata?: { name?: string; namespace?: string; resourceVersion?: string } };

interface Params {
  plural?: string;
  namespace?: string;
  name?: string;
  body?: unknown;
}

/** What to answer instead of the stored object: an error (e.g. `refused(403)`) for matching actions. */
export type Fault = (action: string) => Error | undefined;

export const refused = (code: number, message = `refused with ${String(code)}`): ApiError =>
  new ApiError(code, 'a recorded request', { kind: 'Status', code, message });

/** The API server's NotFound Status for an object of `resource` (e.g. "rolebindings"). */
const notFound = (resource: string, name: string | undefined): ApiError =>
  new ApiError(404, 'a recorded request', {
    kind: 'Status',
    code: 404,
    reason: 'NotFound',
    message: `${resource} "${name ?? ''}" not found`,
    details: { name, kind: resource },
  });

class StoreCache<T> implements Cache<T> {
  private readonly store: Map<string, Stored>;
  private readonly kind: string;
  private readonly transform: (raw: unknown) => T;

  constructor(store: Map<string, Stored>, kind: string, transform: (raw: unknown) => T) {
    this.store = store;
    this.kind = kind;
    this.transform = transform;
  }

  get(name: string, namespace?: string): T | undefined {
    const o = this.store.get(`${this.kind} ${namespace ?? ''}/${name}`);
    return o && this.transform(o);
  }

  list(namespace?: string): readonly T[] {
    return [...this.store.entries()]
      .filter(([k, o]) => k.startsWith(`${this.kind} `) && (namespace === undefined || o.metadata?.namespace === namespace))
      .map(([, o]) => this.transform(o));
  }
}

export class RecordingApi {
  /** Every request, in order: "verb resource namespace/name". */
  readonly actions: string[] = [];
  /** What SubjectAccessReview answers (the test's stand-in for the authorizer's verdict). */
  allowed: (spec: { namespace?: string; name?: string }) => boolean = () => false;
  fault: Fault = () => undefined;
  /** When set, creates are stamped with metadata.creationTimestamp at this time (ms), as the API server stamps them. */
  stampCreation: (() => number) | undefined;
  /** Holds the answer of matching actions until the promise resolves (the request took effect; its answer is late). */
  hold: (action: string) => Promise<void> | undefined = () => undefined;
  readonly api: KubeApi;
  readonly caches: GrantCaches;

  private readonly store = new Map<string, Stored>();
  private version = 100;
  private held: Promise<void> | undefined;

  constructor() {
    const handlers: Record<string, (p: Params) => unknown> = {
      patchNamespacedCustomObject: (p) => this.patchGrant(p),
      patchNamespacedCustomObjectStatus: (p) => this.patchStatus(p),
      replaceNamespacedCustomObject: (p) => this.put('replace', p.plural ?? '', p),
      createNamespacedCustomObject: (p) => this.put('create', p.plural ?? '', p),
      getNamespacedCustomObject: (p) => this.read(p.plural ?? '', p),
      patchNamespacedRole: (p) => this.put('patch', 'roles', p),
      patchNamespacedRoleBinding: (p) => this.put('patch', 'rolebindings', p),
      deleteNamespacedRole: (p) => this.remove('roles', p),
      deleteNamespacedRoleBinding: (p) => this.remove('rolebindings', p),
      createSubjectAccessReview: (p) => this.review(p),
      createNamespacedEvent: (p) => {
        this.record('create', 'events', p.namespace, '');
        return p.body;
      },
      createNamespacedPodEviction: (p) => {
        this.record('create', 'pods/eviction', p.namespace, p.name);
        return {};
      },
      createNamespacedJob: (p) => this.put('create', 'jobs', p),
      readNamespacedJob: (p) => this.read('jobs', p),
      patchNamespacedJob: (p) => this.shortenJob(p),
      deleteNamespacedJob: (p) => this.remove('jobs', p),
    };
    const client = new Proxy(
      {},
      {
        get: (_t, prop: string) => async (p: Params) => {
          const handler = handlers[prop];
          if (!handler) throw new Error(`RecordingApi: ${prop} is not expected here`);
          await Promise.resolve(); // answered asynchronously, as a real client is
          const answer = handler(p);
          const held = this.held;
          this.held = undefined;
          if (held) await held;
          return answer;
        },
      },
    );
    const connection = { until: () => ({}), within: () => ({}), freshConnection: () => undefined, timeouts: { requestMs: 1000, revocationMs: 1000 } };
    this.api = { connection, core: client, rbac: client, authz: client, custom: client, coordination: client, batch: client } as unknown as KubeApi;
    this.caches = {
      grants: new StoreCache(this.store, 'debuggrants', cachedGrant),
      pods: new StoreCache(this.store, 'pods', cachedPod),
      roles: new StoreCache(this.store, 'roles', cachedRole),
      bindings: new StoreCache(this.store, 'rolebindings', cachedRoleBinding),
      indexes: new StoreCache(this.store, 'debuggrantindexes', cachedIndex),
      timers: new StoreCache(this.store, 'jobs', cachedTimer),
      histories: new StoreCache(this.store, 'debuggranthistories', cachedHistory),
    };
  }

  /** Puts an object in the store as if it had been observed (no action recorded). */
  seed(kind: 'debuggrants' | 'pods' | 'roles' | 'rolebindings' | 'debuggrantindexes', o: Stored | V1Role | V1RoleBinding): void {
    const s = o as Stored;
    this.store.set(`${kind} ${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`, {
      ...s,
      metadata: { ...s.metadata, resourceVersion: this.nextVersion() },
    });
  }

  /** Sets a stored Job's status.startTime, as the Job controller does at its first sync (no action recorded). */
  startJob(namespace: string, name: string, startTime: string): void {
    const key = `jobs ${namespace}/${name}`;
    const job = this.store.get(key);
    if (!job) throw new Error(`RecordingApi: no Job ${namespace}/${name} to start`);
    this.store.set(key, { ...job, status: { startTime }, metadata: { ...job.metadata, resourceVersion: this.nextVersion() } });
  }

  /** Takes an object out of the store as if it had been deleted by someone else (no action recorded). */
  forget(kind: string, namespace: string, name: string): void {
    this.store.delete(`${kind} ${namespace}/${name}`);
  }

  has(kind: string, namespace: string, name: string): boolean {
    return this.store.has(`${kind} ${namespace}/${name}`);
  }

  /** The actions of these kinds only (e.g. without reviews and Events). */
  only(...resources: string[]): string[] {
    return this.actions.filter((a) => resources.includes(a.split(' ')[1] ?? ''));
  }

  private nextVersion(): string {
    return String(++this.version);
  }

  private record(verb: string, resource: string, namespace: string | undefined, name: string | undefined): void {
    const action = `${verb} ${resource} ${namespace ?? ''}/${name ?? ''}`;
    this.actions.push(action);
    this.held = this.hold(action);
    const err = this.fault(action);
    if (err) throw err;
  }

  private patchGrant(p: Params): Stored {
    this.record('patch', 'debuggrants', p.namespace, p.name);
    const key = `debuggrants ${p.namespace ?? ''}/${p.name ?? ''}`;
    const grant = this.store.get(key);
    if (!grant) throw notFound('debuggrants', p.name);
    const ops = p.body as { op: string; path: string; value?: unknown }[];
    const meta = { ...(grant.metadata as DebugGrant['metadata']) };
    for (const o of ops) if (o.op === 'add' && o.path === '/metadata/finalizers') meta.finalizers = o.value as string[];
    const written = { ...grant, metadata: { ...meta, resourceVersion: this.nextVersion() } };
    this.store.set(key, written);
    return written;
  }

  private patchStatus(p: Params): Stored {
    this.record('patch', 'debuggrants/status', p.namespace, p.name);
    const key = `debuggrants ${p.namespace ?? ''}/${p.name ?? ''}`;
    const grant = this.store.get(key);
    if (!grant) throw notFound('debuggrants', p.name);
    const written = { ...grant, status: (p.body as { status: unknown }).status, metadata: { ...grant.metadata, resourceVersion: this.nextVersion() } };
    this.store.set(key, written);
    return written;
  }

  private put(verb: string, kind: string, p: Params): Stored {
    const body = p.body as Stored;
    const name = p.name ?? body.metadata?.name ?? INDEX_NAME;
    this.record(verb, kind, p.namespace, name);
    const created = verb === 'create' && this.stampCreation ? { creationTimestamp: new Date(this.stampCreation()).toISOString().replace(/\.\d+Z$/, 'Z') } : {};
    const written = { ...body, metadata: { ...body.metadata, ...created, name, namespace: p.namespace, resourceVersion: this.nextVersion() } };
    this.store.set(`${kind} ${p.namespace ?? ''}/${name}`, written);
    return written;
  }

  /** A timer's JSON patch (src/kube/timers.ts shortenTimer): its activeDeadlineSeconds replaced. */
  private shortenJob(p: Params): Stored {
    this.record('patch', 'jobs', p.namespace, p.name);
    const key = `jobs ${p.namespace ?? ''}/${p.name ?? ''}`;
    const job = this.store.get(key);
    if (!job) throw notFound('jobs', p.name);
    const ops = p.body as { op: string; path: string; value?: unknown }[];
    const seconds = ops.find((o) => o.op === 'replace' && o.path === '/spec/activeDeadlineSeconds')?.value;
    const written = {
      ...job,
      spec: { ...(job.spec as object), activeDeadlineSeconds: seconds },
      metadata: { ...job.metadata, resourceVersion: this.nextVersion() },
    };
    this.store.set(key, written);
    return written;
  }

  private read(kind: string, p: Params): Stored {
    this.record('get', kind, p.namespace, p.name);
    const o = this.store.get(`${kind} ${p.namespace ?? ''}/${p.name ?? ''}`);
    if (!o) throw notFound(kind, p.name);
    return o;
  }

  private remove(kind: string, p: Params): object {
    this.record('delete', kind, p.namespace, p.name);
    if (!this.store.delete(`${kind} ${p.namespace ?? ''}/${p.name ?? ''}`)) throw notFound(kind, p.name);
    return {};
  }

  private review(p: Params): object {
    const attrs = (p.body as { spec: { resourceAttributes: { namespace?: string; name?: string; verb?: string; subresource?: string } } }).spec
      .resourceAttributes;
    this.record('create', 'subjectaccessreviews', attrs.namespace, `${attrs.verb ?? ''} ${attrs.subresource ?? 'pods'} ${attrs.name ?? ''}`);
    return { status: { allowed: this.allowed(attrs) } };
  }
}
