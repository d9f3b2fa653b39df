// Times every API call the operator makes (Prometheus histogram by operation and HTTP
// code), by wrapping the generated clients: no call site can forget to be measured.
import type { Histogram } from 'prom-client';
import type { KubeApi } from './client.ts';
import { wrapCalls } from './wrap-calls.ts';
import { httpStatus } from '../runtime/errors.ts';

export function instrumentApi(api: KubeApi, histogram: Histogram, now: () => number = () => performance.now()): KubeApi {
  return wrapCalls(api, async (operation, _args, send) => {
    const started = now();
    try {
      const result = await send();
      histogram.observe({ operation, code: '2xx' }, (now() - started) / 1000);
      return result;
    } catch (err) {
      histogram.observe({ operation, code: String(httpStatus(err) ?? 'network') }, (now() - started) / 1000);
      throw err;
    }
  });
}
