// The revocation itself: deleting the grant's RoleBinding (the only object that grants
// access), with the retries a deadline deserves.
//
// A delete with no answer after the revocation timeout is not abandoned: another attempt goes
// out on a fresh connection (the old one keeps carrying the first, unless a probe finds it
// stalled and destroys it), up to REVOCATION_ATTEMPTS in flight, and the first answer wins. A
// stalled connection so costs one revocation timeout, as before; a slow API server costs
// nothing more than its own delay. Abandoning the first attempt, as this did before, threw
// its place away: a delete queued by API Priority and Fairness, or held by a slow admission
// webhook, is dropped by the API server when its client goes away, so while the server took
// longer than the revocation timeout every attempt was dropped and access never ended
// (`npm run bench -- overload`, seats mode, docs/benchmark.md).
import type { KubeApi } from '../kube/client.ts';
import { deleteRoleBinding } from '../kube/rbac.ts';
import type { Clock } from '../runtime/clock.ts';
import { httpStatus } from '../runtime/errors.ts';

/** Attempts of a RoleBinding delete in flight at most, before its error goes to the caller's backoff. */
export const REVOCATION_ATTEMPTS = 3;

/**
 * True when a RoleBinding was (or may have been) deleted by these attempts, false when it was
 * already gone. `onSend` is told each time an attempt goes out (its urgent-lane slot came and it
 * was still wanted): the deadline path's timing (fast-path.ts).
 */
export function revokeRoleBinding(api: KubeApi, clock: Clock, namespace: string, name: string, onSend?: () => void): Promise<boolean> {
  return firstDeletion({
    clock,
    attempts: REVOCATION_ATTEMPTS,
    hedgeAfterMs: api.connection.timeouts.revocationMs,
    send: (wanted) =>
      deleteRoleBinding(api, namespace, name, {
        // Asked by the lane when its slot comes and by the connection just before writing: the last yes is when it went out.
        wanted: () => {
          const yes = wanted();
          if (yes) onSend?.();
          return yes;
        },
      }),
    freshConnection: (reason) => {
      api.connection.freshConnection(reason);
    },
  });
}

export interface Deletion {
  clock: Clock;
  /** Attempts sent at most. */
  attempts: number;
  /** With no answer this long after the latest attempt, another is sent (on a fresh connection). */
  hedgeAfterMs: number;
  /**
   * One attempt: true deleted, false already gone; rejects with the API server's answer, or
   * without one (timeout, lost connection). `wanted` is asked just before it goes out (after any
   * wait for a slot of the urgent lane): false, it is not sent (NotSentError).
   */
  send: (wanted: () => boolean) => Promise<boolean>;
  /** Before each attempt after the first: new requests open a fresh connection. */
  freshConnection: (reason: string) => void;
}

/**
 * Sends attempts of one delete until one answers. True as soon as any attempt deleted; false
 * (already gone) or an error answer only once no other attempt is still in flight, since an
 * earlier attempt may be the one that deleted it, and true rather than false when an attempt
 * failed without an answer (it may have deleted it). An attempt not yet sent when the outcome is
 * known (waiting for a slot of the urgent lane) is not sent: it would only hold that slot,
 * up to the request timeout, ahead of later deadlines. An attempt that fails without an answer
 * (timeout, lost connection) while none is in flight is followed at once by the next; when
 * all have failed, the first error answer (or else the last failure) is thrown.
 */
export function firstDeletion(d: Deletion): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    let sent = 0;
    let inFlight = 0;
    let done = false;
    let alreadyGone = false;
    // An attempt sent that failed without an answer (timeout, destroyed connection) may have
    // reached the API server, which then deleted it: a later attempt's 404 is then possibly ours.
    let answerLost = false;
    let answer: unknown;
    let failure: unknown;
    let cancelHedge = (): void => undefined;
    const finish = (deleted: boolean | undefined): void => {
      done = true;
      cancelHedge();
      if (deleted === undefined) reject(toError(answer ?? failure));
      else resolve(deleted);
    };
    const settled = (): void => {
      if (done || inFlight > 0) return;
      // Its connection was retired as it failed: the next attempt opens a fresh one anyway.
      if (sent < d.attempts && !alreadyGone && answer === undefined) {
        send();
        return;
      }
      finish(alreadyGone ? answerLost : undefined);
    };
    const send = (freshConnection?: string): void => {
      cancelHedge();
      if (freshConnection !== undefined) d.freshConnection(freshConnection);
      sent++;
      inFlight++;
      if (sent < d.attempts)
        cancelHedge = d.clock.setTimer(() => {
          if (!done && !alreadyGone && answer === undefined) send(`revocation attempt ${String(sent)} had no answer within ${String(d.hedgeAfterMs)} ms`);
        }, d.hedgeAfterMs);
      let notSent = false;
      const wanted = (): boolean => {
        notSent = done || alreadyGone || answer !== undefined;
        return !notSent;
      };
      attempt(d.send, wanted).then(
        (deleted) => {
          inFlight--;
          if (done) return;
          if (deleted) finish(true);
          else {
            alreadyGone = true;
            settled();
          }
        },
        (err: unknown) => {
          inFlight--;
          if (done) return;
          if (httpStatus(err) !== undefined) answer ??= err;
          else if (!notSent) {
            failure = err;
            answerLost = true;
          }
          settled();
        },
      );
    };
    send();
  });
}

/** One attempt as a promise, also when `send` throws at once (its attempt counts as in flight until it settles). */
function attempt(send: Deletion['send'], wanted: () => boolean): Promise<boolean> {
  try {
    return send(wanted);
  } catch (err) {
    return Promise.reject(toError(err));
  }
}

const toError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
