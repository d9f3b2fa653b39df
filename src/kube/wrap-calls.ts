// One way to put something around every call of the generated API clients (timing,
// request lanes), so no call site can forget it. Watches are long-lived streams: untouched.
import type { KubeApi } from './client.ts';

/** Called for every request with the client method's name and arguments; `send` makes the request. */
export type Around = (operation: string, args: readonly unknown[], send: () => Promise<unknown>) => Promise<unknown>;

function wrapClient<T extends object>(client: T, around: Around): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]): unknown => around(prop, args, () => Reflect.apply(value as (...a: unknown[]) => Promise<unknown>, target, args));
    },
  });
}

export function wrapCalls(api: KubeApi, around: Around): KubeApi {
  return {
    ...api,
    core: wrapClient(api.core, around),
    rbac: wrapClient(api.rbac, around),
    authz: wrapClient(api.authz, around),
    custom: wrapClient(api.custom, around),
    batch: wrapClient(api.batch, around),
    coordination: wrapClient(api.coordination, around),
  };
}
