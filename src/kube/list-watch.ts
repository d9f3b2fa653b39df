// LIST pages and WATCH streams as plain JSON, for the informers. The generated clients
// turn every object of a list into model classes (about 1 s of CPU per 10,000 pods, and a
// copy of each); the informers keep a few fields of each object and want the wire form
// (timestamps as strings, as watch events carry them). Requests go through the same
// authenticated, pooled connection as every other call.
import { createInterface } from 'node:readline';
import { ApiException, HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import type { ListPage, WatchStream } from '../runtime/informer.ts';
import type { PooledKubeConfig } from './kubeconfig.ts';

export type WatchHandler = (type: string, object: unknown) => void;

/** A page of pods is ~1-3 MB of JSON: more time than a small request, still bounded. */
const LIST_PAGE_TIMEOUT_MS = 30_000;

/** The API server's URL for a path, as a kubeconfig names it. */
export function serverOf(kc: KubeConfig): string {
  return kc.getCurrentCluster()?.server ?? '(no cluster in kubeconfig)';
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

async function authenticated(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | undefined>,
  accept = 'application/json',
): Promise<{ url: URL; ctx: RequestContext }> {
  const url = new URL(serverOf(kc).replace(/\/$/, '') + path);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
  const ctx = new RequestContext(url.toString(), HttpMethod.GET);
  ctx.setHeaderParam('Accept', accept);
  await kc.applySecurityAuthentication(ctx);
  return { url, ctx };
}

/** The same error the generated clients throw, so status, message and Retry-After (retry-after.ts) read the same way. */
const failure = (status: number, url: URL, body: string, headers: Record<string, string | string[] | undefined>): ApiException<string> =>
  new ApiException(
    status,
    `HTTP ${String(status)} from GET ${url.pathname}`,
    body,
    Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : (v ?? '')])),
  );

/**
 * One page of a list (`limit` items at most), resumed with `continueToken`. It rides the
 * pooled connection with a deadline like every other request (a stalled one is replaced).
 */
export async function listPage(kc: PooledKubeConfig, path: string, opts: { limit: number; continueToken?: string } & Selection): Promise<ListPage> {
  const { url, ctx } = await authenticated(
    kc,
    path,
    {
      limit: String(opts.limit),
      continue: opts.continueToken,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
    },
    opts.metadataOnly ? METADATA_LIST : undefined,
  );
  const http = kc.within(Math.max(LIST_PAGE_TIMEOUT_MS, kc.timeouts.requestMs)).httpApi;
  if (!http) throw new Error('no HTTP client for list requests');
  const res = await http.send(ctx).toPromise();
  const text = await res.body.text();
  if (res.httpStatusCode !== 200) throw failure(res.httpStatusCode, url, text, res.headers);
  const list = JSON.parse(text) as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } };
  return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '', continueToken: list.metadata?.continue || undefined };
}

/**
 * Opens a watch from `resourceVersion`; resolves once the server accepted it. A stream that
 * sends nothing (not even a bookmark, which the server sends about once a minute) for
 * `idleMs` counts as stalled and fails, so a dead connection never looks like a quiet one.
 */
export async function openWatch(
  kc: KubeConfig,
  path: string,
  opts: { resourceVersion: string; timeoutSeconds: number; idleMs: number } & Selection,
  onEvent: WatchHandler,
): Promise<WatchStream> {
  const abort = new AbortController();
  const { url, ctx } = await authenticated(
    kc,
    path,
    {
      watch: 'true',
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(opts.timeoutSeconds),
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
    },
    opts.metadataOnly ? METADATA_WATCH : undefined,
  );
  const dispatcher = ctx.getDispatcher();
  if (!dispatcher) throw new Error(`no connection for ${url.origin}`);
  // A stream, so not through the buffering request path: straight on the pooled connection
  // (when that connection is replaced as stalled, this stream ends and the informer resumes).
  const res = await dispatcher.request({
    origin: url.origin,
    path: url.pathname + url.search,
    method: 'GET',
    headers: ctx.getHeaders(),
    signal: abort.signal,
    headersTimeout: LIST_PAGE_TIMEOUT_MS,
    bodyTimeout: 0,
  });
  if (res.statusCode !== 200) throw failure(res.statusCode, url, await res.body.text(), res.headers);
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
        const event = JSON.parse(line) as { type?: string; object?: unknown };
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

/** One object as plain JSON (the wire form the caches' transforms read); undefined when it is gone (404). */
export async function getObject(kc: PooledKubeConfig, path: string): Promise<unknown> {
  const { url, ctx } = await authenticated(kc, path, {});
  const http = kc.within(kc.timeouts.requestMs).httpApi;
  if (!http) throw new Error('no HTTP client for get requests');
  const res = await http.send(ctx).toPromise();
  const text = await res.body.text();
  if (res.httpStatusCode === 404) return undefined;
  if (res.httpStatusCode !== 200) throw failure(res.httpStatusCode, url, text, res.headers);
  return JSON.parse(text) as unknown;
}
