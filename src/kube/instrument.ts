// Times every API call the operator makes (Prometheus histogram by operation and HTTP
// code, and for custom objects their resource: the index, the histories and the grants share
// one set of methods), by wrapping the generated clients: no call site can forget to be measured.
import type { Histogram } from 'prom-client';
import type { KubeApi } from './client.ts';
import { wrapCalls } from './wrap-calls.ts';
import { httpStatus } from '../runtime/errors.ts';

export function instrumentApi(api: KubeApi, histogram: Histogram, now: () => number = () => performance.now()): KubeApi {
  return wrapCalls(api, async (operation, args, send) => {
    const started = now();
    const resource = customResource(args);
    const labels = (code: string) => (resource ? { operation, code, resource } : { operation, code });
    try {
      const result = await send();
      histogram.observe(labels('2xx'), (now() - started) / 1000);
      return result;
    } catch (err) {
      histogram.observe(labels(String(httpStatus(err) ?? 'network')), (now() - started) / 1000);
      throw err;
    }
  });
}

/** A custom-object call's resource (its plural): the method alone does not say which. */
function customResource(args: readonly unknown[]): string | undefined {
  const request: unknown = args[0];
  if (typeof request !== 'object' || request === null || !('plural' in request)) return undefined;
  return typeof request.plural === 'string' ? request.plural : undefined;
}
