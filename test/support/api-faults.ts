// Faults at the API-client level, around the operator's real client: a chosen request fails
// or is held back, and every request is logged with when the operator called it and when it
// returned. (Connection-level faults live in the TCP proxy.)
import { ApiError } from '../../src/kube/api-error.ts';
import type { KubeApi } from '../../src/kube/client.ts';
import { wrapCalls } from '../../src/kube/wrap-calls.ts';

export interface ApiCall {
  operation: string;
  /** The request's parameters (name, namespace, body…). */
  params: Record<string, unknown>;
  calledAt: number;
  doneAt?: number;
  failed?: boolean;
}

export interface ApiFault {
  operation: string;
  when?: (params: Record<string, unknown>) => boolean;
  /** Runs before the request is sent: throw to fail it, wait to hold it back. */
  before(params: Record<string, unknown>): Promise<void>;
}

/** An error the API server could have answered with. */
export const serverError = (code = 500): ApiError =>
  new ApiError(code, 'an injected fault', { kind: 'Status', code, message: `injected HTTP ${String(code)}` });

export function withFaults(api: KubeApi, faults: ApiFault[], calls: ApiCall[] = []): KubeApi {
  return wrapCalls(api, async (operation, args, send) => {
    const params = (args[0] ?? {}) as Record<string, unknown>;
    const call: ApiCall = { operation, params, calledAt: Date.now() };
    calls.push(call);
    try {
      for (const f of faults) if (f.operation === operation && (f.when?.(params) ?? true)) await f.before(params);
      return await send();
    } catch (err) {
      call.failed = true;
      throw err;
    } finally {
      call.doneAt = Date.now();
    }
  });
}
