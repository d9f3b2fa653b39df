// Expiry lateness as the benchmark measures it: grants whose deadline is known, SAR polled
// from just before it until the authorizer denies. Shared by the grant-scale and cluster scenarios.
//
// Each grant is watched on its own schedule: one late expiry must not make the next look late
// (measured one after another, a grant polled only once the previous one was denied counted
// that wait as its own lateness). Beside the lateness, what bounds the observer: the round trip
// of the SubjectAccessReview that saw the denial (the lateness is known to within it), the time
// the bench's own RoleBinding watch saw the delete, and the bench's own event-loop stalls.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { rbacName } from '../src/api/names.ts';
import type { KubeApi } from '../src/kube/client.ts';
import { bindUser, createGrant, ensureExecRoles, userCanExec, waitForAccess } from './cluster.ts';
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

/** One expiry as observed, in ms after its deadline (or after the floor's delete was sent). */
export interface ExpirySample {
  grant: string;
  /** The first SubjectAccessReview answer that denied. */
  lateMs: number;
  /** That review's round trip: part of the observer's granularity. */
  sarRoundTripMs: number;
  /** The last review that still allowed was sent this long after: access ended after it. */
  allowedUntilMs: number | undefined;
  /** The bench's RoleBinding watch saw the DELETED event (the API server's watch cache and the bench's loop). */
  deleteSeenMs: number | undefined;
  /** The operator's own account (its debug line), filled in by the caller when it has one. */
  operator?: Record<string, number>;
}

export interface Expiries {
  lateness: Summary;
  /** The last review that still allowed was sent then: access ended between this and `lateness`. */
  allowedUntil: Summary;
  sarRoundTrip: Summary;
  deleteSeen: Summary;
  /** The bench process's longest event-loop stall while it measured: its own lateness as an observer. */
  benchLoopMaxMs: number;
  samples: ExpirySample[];
}

/**
 * Polls SubjectAccessReview until it denies: a review goes out every `everyMs` without waiting
 * for the one before (up to `inFlight` at once), so under a slow API server the denial is seen
 * one round trip after access ended, not two (a single poller waits for the allowing review
 * still in flight before it can send the one that denies). When the first denial came, its
 * round trip, and when the latest review that allowed was sent.
 */
function untilDenied(
  api: KubeApi,
  user: string,
  namespace: string,
  timeoutMs: number,
  everyMs: number,
  inFlight = 4,
): Promise<{ at: number; roundTripMs: number; lastAllowedSent: number | undefined }> {
  return new Promise((resolve, reject) => {
    const giveUp = Date.now() + timeoutMs;
    let done = false;
    let pending = 0;
    let lastAllowedSent: number | undefined;
    const tick = (): void => {
      if (done) return;
      if (Date.now() > giveUp) {
        done = true;
        reject(new Error(`${user} in ${namespace}: access never ended`));
        return;
      }
      if (pending < inFlight) {
        pending++;
        const sent = Date.now();
        userCanExec(api, user, namespace).then(
          (allowed) => {
            pending--;
            const at = Date.now();
            if (done) return;
            if (allowed) lastAllowedSent = Math.max(lastAllowedSent ?? sent, sent);
            else {
              done = true;
              resolve({ at, roundTripMs: at - sent, lastAllowedSent });
            }
          },
          (err: unknown) => {
            pending--;
            if (!done) {
              done = true;
              reject(err instanceof Error ? err : new Error(String(err)));
            }
          },
        );
      }
      setTimeout(tick, everyMs);
    };
    tick();
  });
}

/** Measures each of `items` on its own: `start` it (or wait for its deadline), then poll until denied. */
async function observe<T extends { namespace: string; user: string; binding: string; grant: string }>(
  api: KubeApi,
  items: T[],
  events: BindingEvents,
  start: (item: T) => Promise<number>,
): Promise<Expiries> {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  try {
    const samples = await Promise.all(
      items.map(async (item) => {
        const deleted = events.next('DELETED', item.namespace, item.binding).then(() => Date.now());
        const t0 = await start(item);
        const denied = await untilDenied(api, item.user, item.namespace, 60_000, 2);
        const seen = await Promise.race([deleted, sleep(5000).then(() => undefined)]);
        return {
          grant: item.grant,
          lateMs: denied.at - t0,
          sarRoundTripMs: denied.roundTripMs,
          allowedUntilMs: denied.lastAllowedSent === undefined ? undefined : denied.lastAllowedSent - t0,
          deleteSeenMs: seen === undefined ? undefined : seen - t0,
        };
      }),
    );
    return {
      lateness: summarize(samples.map((s) => s.lateMs)),
      allowedUntil: summarize(samples.flatMap((s) => (s.allowedUntilMs === undefined ? [] : [s.allowedUntilMs]))),
      sarRoundTrip: summarize(samples.map((s) => s.sarRoundTripMs)),
      deleteSeen: summarize(samples.flatMap((s) => (s.deleteSeenMs === undefined ? [] : [s.deleteSeenMs]))),
      benchLoopMaxMs: loop.max / 1e6,
      samples,
    };
  } finally {
    loop.disable();
  }
}

/**
 * `count` grants, the first deadline `leadMs` from now (time to activate them all), 700 ms apart.
 * A grant not yet active at its deadline is left out (its lateness would be its activation's).
 */
export async function measureIsolatedExpiries(
  api: KubeApi,
  events: BindingEvents,
  next: Next,
  count = 10,
  leadMs = 5000,
): Promise<Expiries & { missed: number }> {
  const base = Date.now() + leadMs;
  const grants = Array.from({ length: count }, (_, i) => {
    const g = next('iso');
    return { ...g, grant: `${g.namespace}/${g.name}`, binding: rbacName(g.name), at: base + i * 700 };
  });
  const active = await Promise.all(
    grants.map(async (g) => {
      const added = events.next('ADDED', g.namespace, g.binding);
      await createGrant(api, { ...g, ttl: '4h', notAfter: new Date(g.at).toISOString() });
      await added;
      return Date.now() < g.at - 20;
    }),
  );
  const measured = grants.filter((_, i) => active[i]);
  const result = await observe(api, measured, events, async (g) => {
    await sleep(g.at - 20 - Date.now());
    return g.at;
  });
  return { ...result, missed: grants.length - measured.length };
}

/** The floor: an admin deletes RoleBindings itself, `count` of them 700 ms apart; lateness from the delete's sending. */
export async function measureFloorExpiries(api: KubeApi, events: BindingEvents, namespaces: string[], prefix: string, count = 10): Promise<Expiries> {
  await ensureExecRoles(api, namespaces);
  const items = Array.from({ length: count }, (_, i) => {
    const user = `${prefix}-${String(i)}`;
    return { namespace: namespaces[i % namespaces.length] ?? '', user, binding: user, grant: user, order: i };
  });
  for (const b of items) {
    await bindUser(api, b.namespace, b.user, b.user);
    await waitForAccess(api, b.user, b.namespace, true);
  }
  const base = Date.now() + 200;
  return observe(api, items, events, async (b) => {
    await sleep(base + b.order * 700 - Date.now());
    const t0 = Date.now();
    await api.rbac.deleteNamespacedRoleBinding({ namespace: b.namespace, name: b.binding });
    return t0;
  });
}
