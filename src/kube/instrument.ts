// Times every API call the operator makes (Prometheus histogram by operation and HTTP
// code), by wrapping the generated clients: no call site can forget to be measured.
import type { Histogram } from 'prom-client';
import type { KubeApi } from './client.ts';
import { httpStatus } from '../runtime/errors.ts';

function timed<T extends object>(client: T, histogram: Histogram, now: () => number): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]): unknown => {
        const started = now();
        const result: unknown = Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
        if (!(result instanceof Promise)) return result;
        return result.then((ok: unknown) => {
          histogram.observe({ operation: prop, code: '2xx' }, (now() - started) / 1000);
          return ok;
        }, (err: unknown) => {
          histogram.observe({ operation: prop, code: String(httpStatus(err) ?? 'network') }, (now() - started) / 1000);
          throw err;
        });
      };
    },
  });
}

export function instrumentApi(api: KubeApi, histogram: Histogram, now: () => number = () => performance.now()): KubeApi {
  return {
    ...api,
    core: timed(api.core, histogram, now),
    rbac: timed(api.rbac, histogram, now),
    authz: timed(api.authz, histogram, now),
    custom: timed(api.custom, histogram, now),
    coordination: timed(api.coordination, histogram, now),
  };
}
