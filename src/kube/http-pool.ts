// undici's connection pool and request(), without the rest of undici. Its entry point
// (index.js) evaluates all of it: fetch, WebSocket, EventSource, caches, mocks, proxies, and
// with them Node's web streams, console and fs/promises. The operator uses one Agent and
// request(); importing just those files keeps ~2.5 MB of RSS out of it (docs/benchmark.md,
// "Idle", session 3; test/unit/bundle.test.ts checks the bundle holds no other part).
import type { Dispatcher } from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import request from 'undici/lib/api/api-request.js';

export type { Dispatcher };

/** A pool of connections per origin, as `new Agent(options)` from 'undici'. */
export function connectionPool(options: Agent.Options): Dispatcher {
  return new Agent(options);
}

/** `dispatcher.request(options)`, as undici's entry point installs it on every dispatcher. */
export function send(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return request.call(dispatcher, options);
}
