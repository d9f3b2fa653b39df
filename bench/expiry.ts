// Expiry lateness as the benchmark measures it: grants whose deadline is known, SAR polled
// from just before it until the authorizer denies. Shared by the grant-scale and cluster scenarios.
import { rbacName } from '../src/api/names.ts';
import type { KubeApi } from '../src/kube/client.ts';
import { createGrant, waitForAccess } from './cluster.ts';
import { summarize, type Summary } from './stats.ts';

export type Next = (prefix: string) => { namespace: string; name: string; user: string; app?: string };

const sleep = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t)));

/** Routes RoleBinding watch events to whoever waits for that binding. */
export class BindingEvents {
  private readonly waiters = new Map<string, () => void>();
  handle(type: 'ADDED' | 'DELETED', key: string): void {
    const w = this.waiters.get(`${type} ${key}`);
    if (w) {
      this.waiters.delete(`${type} ${key}`);
      w();
    }
  }
  next(type: 'ADDED' | 'DELETED', namespace: string, name: string): Promise<void> {
    return new Promise((resolve) => this.waiters.set(`${type} ${namespace}/${name}`, resolve));
  }
}

/** `count` grants, the first deadline `leadMs` from now (time to activate them all), 700 ms apart. */
export async function measureIsolatedExpiries(api: KubeApi, events: BindingEvents, next: Next, count = 10, leadMs = 5000): Promise<Summary> {
  const base = Date.now() + leadMs;
  const grants = Array.from({ length: count }, (_, i) => ({ ...next('iso'), at: base + i * 700 }));
  await Promise.all(
    grants.map(async (g) => {
      const added = events.next('ADDED', g.namespace, rbacName(g.name));
      await createGrant(api, { ...g, ttl: '4h', notAfter: new Date(g.at).toISOString() });
      await added;
    }),
  );
  const lateness: number[] = [];
  for (const g of grants) {
    await sleep(g.at - 20 - Date.now());
    lateness.push((await waitForAccess(api, g.user, g.namespace, false, 60_000, 1)) - g.at);
  }
  return summarize(lateness);
}
