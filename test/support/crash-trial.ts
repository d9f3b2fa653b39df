// One crash trial: grants go through their lifecycle while the operator process is killed
// (SIGKILL) at a random moment and started again after a random delay. SubjectAccessReview,
// polled from outside, is the ground truth; the trial fails when access outlives its
// deadline + restart delay + 5 s, a grant is Active again after it ended, RBAC is left
// behind, or the final record contradicts the access that existed.
import { summarize, type Summary } from '../../bench/stats.ts';
import type { OperatorProcess } from '../../hack/operator-process.ts';
import { rbacName } from '../../src/api/names.ts';
import { GROUP, PLURAL, VERSION } from '../../src/api/schema.ts';
import type { DebugGrant } from '../../src/api/types.ts';
import type { KubeApi } from '../../src/kube/client.ts';
import { isNotFoundStatus } from '../../src/runtime/errors.ts';
import { DEBUG_IMAGE } from './policy.ts';

export interface TrialSetup {
  /** Reads grants and RBAC, asks SubjectAccessReview. */
  api: KubeApi;
  /** Creates the grants (an identity the grant-creation policy admits). */
  creator: KubeApi;
  namespace: string;
  /** A pod labelled app=checkout the grants select. */
  pod: string;
  /** Starts a fresh operator process (ready or not: its start-up is part of the restart). */
  spawn(): Promise<OperatorProcess>;
  grants?: number;
  ttlSeconds?: number;
  maxRestartDelayMs?: number;
  random?: () => number;
}

export interface GrantOutcome {
  name: string;
  /** ms from the deadline until SubjectAccessReview denied, when access was seen after it. */
  latenessMs: number | undefined;
  finalPhase: string | undefined;
}

export interface TrialResult {
  killAfterMs: number;
  restartDelayMs: number;
  grants: GrantOutcome[];
  failures: string[];
  operator: OperatorProcess;
}

const TERMINAL = new Set(['Expired', 'Revoked', 'Denied']);
const SETTLE_TIMEOUT_MS = 60_000;
let trialSeq = 0;

interface Observed {
  name: string;
  subject: string;
  phases: string[];
  allowedAt: number[];
  deniedAt: number[];
  grant?: DebugGrant;
}

/** Runs one trial against `running` (the operator before the crash); returns the operator after it. */
export async function crashTrial(setup: TrialSetup, running: OperatorProcess): Promise<TrialResult> {
  const random = setup.random ?? Math.random;
  const count = setup.grants ?? 3;
  const ttlMs = (setup.ttlSeconds ?? 3) * 1000;
  const seq = `${String(process.pid)}-${String(trialSeq++)}`;
  const observed: Observed[] = Array.from({ length: count }, (_, i) => ({
    name: `trial-${seq}-${String(i)}`,
    subject: `trial-${seq}-${String(i)}`,
    phases: [],
    allowedAt: [],
    deniedAt: [],
  }));
  let polling = true;
  const pollers = observed.map((o) => poll(setup, o, () => polling));

  const started = Date.now();
  const creations = observed.map(async (o) => {
    await sleep(random() * 1000);
    await createGrant(setup, o, `${String(ttlMs / 1000)}s`);
  });
  // Anywhere from before the first create to after the last deadline.
  const killAfterMs = Math.round(random() * (ttlMs + 2000));
  const restartDelayMs = Math.round(random() * (setup.maxRestartDelayMs ?? 2000));
  let operator: OperatorProcess;
  try {
    await sleep(started + killAfterMs - Date.now());
    await running.kill();
    await sleep(restartDelayMs);
    operator = await setup.spawn();
    await Promise.all(creations);
    const settleBy = Date.now() + SETTLE_TIMEOUT_MS;
    while (Date.now() < settleBy && !observed.every((o) => TERMINAL.has(o.grant?.status?.phase ?? '') && lastIs(o, 'denied'))) await sleep(100);
    await sleep(300); // a last look at SubjectAccessReview after the end
  } finally {
    polling = false;
    await Promise.all(pollers);
  }

  const failures: string[] = [];
  const outcomes = await Promise.all(
    observed.map(async (o) => {
      const phase = o.grant?.status?.phase;
      const expiresAt = o.grant?.status?.expiresAt ? Date.parse(o.grant.status.expiresAt) : undefined;
      const lastAllowed = o.allowedAt.at(-1);
      const deniedAfter = lastAllowed === undefined ? undefined : o.deniedAt.find((t) => t > lastAllowed);
      const why = (what: string): void => {
        failures.push(`${o.name}: ${what}`);
      };
      if (!phase || !TERMINAL.has(phase)) why(`did not end within ${String(SETTLE_TIMEOUT_MS / 1000)} s (phase ${phase ?? 'none'})`);
      const endedAt = o.phases.findIndex((p) => TERMINAL.has(p));
      if (endedAt >= 0 && o.phases.slice(endedAt).includes('Active')) why(`Active again after it ended (${o.phases.join(' → ')})`);
      if (lastAllowed !== undefined) {
        if (expiresAt === undefined) why('access existed but no deadline is on record');
        else if (lastAllowed > expiresAt + restartDelayMs + 5000)
          why(`access allowed ${String(lastAllowed - expiresAt)} ms after the deadline (restart delay ${String(restartDelayMs)} ms)`);
        if (phase !== 'Expired')
          why(`access existed but the record says ${phase ?? 'nothing'} (${o.grant?.status?.conditions?.map((c) => c.reason).join(', ') ?? ''})`);
      }
      if (await rbacLeft(setup, o.name)) why('RBAC left behind');
      const latenessMs =
        lastAllowed !== undefined && expiresAt !== undefined && lastAllowed >= expiresAt && deniedAfter !== undefined ? deniedAfter - expiresAt : undefined;
      return { name: o.name, latenessMs, finalPhase: phase };
    }),
  );
  return { killAfterMs, restartDelayMs, grants: outcomes, failures, operator };
}

function lastIs(o: Observed, what: 'denied' | 'allowed'): boolean {
  const a = o.allowedAt.at(-1) ?? -1;
  const d = o.deniedAt.at(-1) ?? -1;
  return what === 'denied' ? d > a : a > d;
}

async function poll(setup: TrialSetup, o: Observed, going: () => boolean): Promise<void> {
  while (going()) {
    const [allowed, grant] = await Promise.all([canDebug(setup, o.subject).catch(() => undefined), readGrant(setup, o.name).catch(() => o.grant)]);
    const at = Date.now();
    if (allowed === true) o.allowedAt.push(at);
    else if (allowed === false) o.deniedAt.push(at);
    if (grant) {
      o.grant = grant;
      const phase = grant.status?.phase;
      if (phase && o.phases.at(-1) !== phase) o.phases.push(phase);
    }
    await sleep(50);
  }
}

async function canDebug(setup: TrialSetup, user: string): Promise<boolean> {
  const review = await setup.api.authz.createSubjectAccessReview({
    body: {
      spec: {
        user,
        groups: ['system:authenticated'],
        resourceAttributes: { namespace: setup.namespace, verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', name: setup.pod },
      },
    },
  });
  return review.status?.allowed === true;
}

async function createGrant(setup: TrialSetup, o: Observed, ttl: string): Promise<void> {
  await setup.creator.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    namespace: setup.namespace,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'DebugGrant',
      metadata: { name: o.name, namespace: setup.namespace },
      spec: {
        subject: { kind: 'User', name: o.subject },
        podSelector: { matchLabels: { app: 'checkout' } },
        image: DEBUG_IMAGE,
        ttl,
        reason: 'crash trial: kill -9 at a random moment',
      },
    },
  });
}

async function readGrant(setup: TrialSetup, name: string): Promise<DebugGrant | undefined> {
  try {
    return (await setup.api.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: setup.namespace,
      name,
    })) as DebugGrant;
  } catch (err) {
    if (isNotFoundStatus(err, PLURAL)) return undefined;
    throw err;
  }
}

async function rbacLeft(setup: TrialSetup, grant: string): Promise<boolean> {
  const exists = (p: Promise<unknown>, resource: string): Promise<boolean> =>
    p.then(
      () => true,
      (err: unknown) => {
        if (isNotFoundStatus(err, resource)) return false;
        throw err;
      },
    );
  const name = rbacName(grant);
  const [role, binding] = await Promise.all([
    exists(setup.api.rbac.readNamespacedRole({ namespace: setup.namespace, name }), 'roles'),
    exists(setup.api.rbac.readNamespacedRoleBinding({ namespace: setup.namespace, name }), 'rolebindings'),
  ]);
  return role || binding;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Lateness over every grant (0 when access was gone by its deadline), and the trials that failed. */
export function summarizeTrials(results: TrialResult[]): { trials: number; lateness: Summary; failures: number } {
  return {
    trials: results.length,
    lateness: summarize(results.flatMap((r) => r.grants.map((g) => g.latenessMs ?? 0))),
    failures: results.filter((r) => r.failures.length > 0).length,
  };
}
