// LIST pages and WATCH streams as plain JSON, for the informers. The generated clients
// turn every object of a list into model classes (about 1 s of CPU per 10,000 pods, and a
// copy of each); the informers keep a few fields of each object and want the wire form
// (timestamps as strings, as watch events carry them). Requests go through the same
// authenticated, pooled connection as every other call. No cache keeps managedFields, so
// they are cut from the text before it is parsed (strip-managed-fields.ts).
import { createInterface } from 'node:readline';
import { ApiError, parseBody } from './api-error.ts';
import { flatHeaders, type ApiConnection } from './connection.ts';
import { send } from './http-pool.ts';
import { isNotFoundStatus } from '../runtime/errors.ts';
import type { ListPage, WatchStream } from '../runtime/informer.ts';
import { withoutManagedFields } from './strip-managed-fields.ts';

export type WatchHandler = (type: string, object: unknown) => void;

/** A page of pods is ~1-3 MB of JSON: more time than a small request, still bounded. */
const LIST_PAGE_TIMEOUT_MS = 30_000;

/** The API server's URL for a path, as a kubeconfig names it. */
export function serverOf(connection: ApiConnection): string {
  return connection.server;
}

/**
 * What a list or watch selects and in which form: `metadataOnly` asks the API server for
 * PartialObjectMetadata (name, labels, owners, generation… no spec, no status), which for a
 * pod is about half of its JSON and none of what changes when its status does.
 */
export interface Selection {
  labelSelector?: string;
  fieldSelector?: string;
  metadataOnly?: boolean;
}

const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
const METADATA_WATCH = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

/** The same error every other request throws, so status, message and Retry-After (retry-after.ts) read the same way. */
const failure = (status: number, path: string, body: string, headers: Record<string, string>): ApiError =>
  new ApiError(status, `GET ${path}`, parseBody(body), headers);

/**
 * One page of a list (`limit` items at most), resumed with `continueToken`. It rides the
 * pooled connection with a deadline like every other request (a stalled one is replaced).
 */
export async function listPage(connection: ApiConnection, path: string, opts: { limit: number; continueToken?: string } & Selection): Promise<ListPage> {
  const query = {
    limit: String(opts.limit),
    continue: opts.continueToken,
    labelSelector: opts.labelSelector,
    fieldSelector: opts.fieldSelector,
  };
  const res = await connection.request(
    { method: 'GET', path, query, accept: opts.metadataOnly ? METADATA_LIST : undefined },
    connection.within(Math.max(LIST_PAGE_TIMEOUT_MS, connection.timeouts.requestMs)),
  );
  if (res.status !== 200) throw failure(res.status, path, res.text, res.headers);
  const list = JSON.parse(withoutManagedFields(res.text)) as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } };
  return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '', continueToken: list.metadata?.continue || undefined };
}

/**
 * Opens a watch from `resourceVersion` ("" with `initialEvents`: the most recent state);
 * resolves once the server accepted it. A stream that
 * sends nothing (not even a bookmark, which the server sends about once a minute) for
 * `idleMs` counts as stalled and fails, so a dead connection never looks like a quiet one.
 */
export async function openWatch(
  connection: ApiConnection,
  path: string,
  opts: { resourceVersion: string; timeoutSeconds: number; idleMs: number; initialEvents?: boolean } & Selection,
  onEvent: WatchHandler,
): Promise<WatchStream> {
  const abort = new AbortController();
  const query = {
    watch: 'true',
    resourceVersion: opts.resourceVersion || undefined,
    allowWatchBookmarks: 'true',
    // WatchList (src/runtime/watch-list.ts): every object first, then the bookmark that ends them.
    sendInitialEvents: opts.initialEvents ? 'true' : undefined,
    resourceVersionMatch: opts.initialEvents ? 'NotOlderThan' : undefined,
    timeoutSeconds: String(opts.timeoutSeconds),
    labelSelector: opts.labelSelector,
    fieldSelector: opts.fieldSelector,
  };
  const { dispatcher, url, headers } = await connection.open({ path, query, accept: opts.metadataOnly ? METADATA_WATCH : undefined }, 'watches');
  // A stream, so not through the buffering request path: straight on the watches' pooled connection
  // (when that connection is replaced as stalled, this stream ends and the informer resumes).
  const res = await send(dispatcher, {
    origin: url.origin,
    path: url.pathname + url.search,
    method: 'GET',
    headers,
    signal: abort.signal,
    headersTimeout: LIST_PAGE_TIMEOUT_MS,
    bodyTimeout: 0,
  });
  if (res.statusCode !== 200) throw failure(res.statusCode, path, await res.body.text(), flatHeaders(res.headers));
  const body = res.body;
  let idle: NodeJS.Timeout | undefined;
  const ended = new Promise<void>((resolve, reject) => {
    const stalled = (): void => {
      abort.abort();
      reject(new Error(`watch sent nothing for ${String(Math.round(opts.idleMs / 1000))} s (stalled connection)`));
    };
    const touch = (): void => {
      clearTimeout(idle);
      idle = setTimeout(stalled, opts.idleMs);
      idle.unref();
    };
    touch();
    body.on('data', touch);
    const failed = (err: Error): void => {
      clearTimeout(idle);
      if (abort.signal.aborted) resolve();
      else reject(err);
    };
    body.on('error', failed);
    const lines = createInterface({ input: body, crlfDelay: Infinity });
    // readline re-emits its input's errors: handled above, but it throws without a listener.
    lines.on('error', failed);
    lines.on('line', (line) => {
      if (!line || abort.signal.aborted) return;
      try {
        const event = JSON.parse(withoutManagedFields(line)) as { type?: string; object?: unknown };
        onEvent(event.type ?? '', event.object);
      } catch (err) {
        // A handler refusing an event (e.g. 410 Gone) ends the stream with its reason.
        clearTimeout(idle);
        abort.abort();
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    lines.on('close', () => {
      clearTimeout(idle);
      resolve();
    });
  });
  return {
    ended,
    stop: () => {
      clearTimeout(idle);
      abort.abort();
    },
  };
}

/** One object of `resource` as plain JSON (the wire form the caches' transforms read); undefined when the API server says it is gone. */
export async function getObject(connection: ApiConnection, path: string, resource: string): Promise<unknown> {
  const res = await connection.request({ method: 'GET', path });
  if (res.status !== 200) {
    const err = failure(res.status, path, res.text, res.headers);
    if (isNotFoundStatus(err, resource)) return undefined;
    throw err;
  }
  return JSON.parse(withoutManagedFields(res.text)) as unknown;
}
