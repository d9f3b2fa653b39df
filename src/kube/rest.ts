// A small typed REST client over the pooled connection (connection.ts): get, list, create,
// replace, patch (JSON patch, merge patch, strategic merge patch, server-side apply) and
// delete of any resource by its path. Bodies go out and come back as plain JSON, the wire
// form: no model classes (client-node's generated API and its ~900 models cost ~40 MB of
// RSS at load, more than the rest of the operator at idle). A refusal is an ApiError.
import { ApiError, parseBody } from './api-error.ts';
import type { ApiConnection, CallOptions, HttpRequest } from './connection.ts';

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  // JSON is YAML: the body is sent as JSON under the content type apply asks for.
  apply: 'application/apply-patch+yaml',
};

/** One resource (with `name`) or a collection (without); `namespace` omitted: cluster-scoped or across all namespaces. */
export interface Resource {
  /** Empty or omitted: the core group (/api/v1). */
  group?: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export function resourcePath(r: Resource): string {
  const seg = encodeURIComponent;
  return [
    r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`,
    r.namespace === undefined ? '' : `/namespaces/${seg(r.namespace)}`,
    `/${r.plural}`,
    r.name === undefined ? '' : `/${seg(r.name)}`,
    r.subresource === undefined ? '' : `/${r.subresource}`,
  ].join('');
}

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface WriteQuery {
  fieldManager?: string;
  /** Validated and admitted, not persisted. */
  dryRun?: boolean;
}

export interface PatchQuery extends WriteQuery {
  /** Server-side apply: take fields other managers own. */
  force?: boolean;
}

/** A delete's options, sent in its body (with a body the API server reads none from the query). */
export interface DeleteOptions {
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  gracePeriodSeconds?: number;
  dryRun?: boolean;
}

const writeQuery = (q: PatchQuery = {}): Record<string, string | undefined> => ({
  fieldManager: q.fieldManager,
  dryRun: q.dryRun ? 'All' : undefined,
  force: q.force === undefined ? undefined : String(q.force),
});

export class KubeClient {
  readonly connection: ApiConnection;

  constructor(connection: ApiConnection) {
    this.connection = connection;
  }

  /** A resource, or any other path (/version). */
  get<T>(r: Resource | string, options?: CallOptions): Promise<T> {
    return this.call({ method: 'GET', path: typeof r === 'string' ? r : resourcePath(r) }, options);
  }

  list<T>(r: Resource, q: ListQuery = {}, options?: CallOptions): Promise<T> {
    const query = { ...q, limit: q.limit === undefined ? undefined : String(q.limit) };
    return this.call({ method: 'GET', path: resourcePath(r), query }, options);
  }

  create<T>(r: Resource, body: unknown, q?: WriteQuery, options?: CallOptions): Promise<T> {
    return this.call({ method: 'POST', path: resourcePath(r), query: writeQuery(q), body: JSON.stringify(body), contentType: 'application/json' }, options);
  }

  replace<T>(r: Resource, body: unknown, q?: WriteQuery, options?: CallOptions): Promise<T> {
    return this.call({ method: 'PUT', path: resourcePath(r), query: writeQuery(q), body: JSON.stringify(body), contentType: 'application/json' }, options);
  }

  patch<T>(r: Resource, type: PatchType, body: unknown, q?: PatchQuery, options?: CallOptions): Promise<T> {
    return this.call(
      { method: 'PATCH', path: resourcePath(r), query: writeQuery(q), body: JSON.stringify(body), contentType: PATCH_CONTENT_TYPE[type] },
      options,
    );
  }

  delete<T>(r: Resource, opts?: DeleteOptions, options?: CallOptions): Promise<T> {
    const { dryRun, ...rest } = opts ?? {};
    const body = opts && { apiVersion: 'v1', kind: 'DeleteOptions', ...rest, ...(dryRun ? { dryRun: ['All'] } : {}) };
    return this.call({ method: 'DELETE', path: resourcePath(r), ...(body ? { body: JSON.stringify(body), contentType: 'application/json' } : {}) }, options);
  }

  private async call<T>(req: HttpRequest, options: CallOptions | undefined): Promise<T> {
    const answer = await this.connection.request(req, options);
    const body = parseBody(answer.text);
    if (answer.status < 200 || answer.status > 299) throw new ApiError(answer.status, `${req.method} ${req.path}`, body, answer.headers);
    return body as T;
  }
}
