// The per-request-kind fault matrix: every kind of request the operator makes (index write,
// Role apply, RoleBinding apply and delete, status write, Event create, SubjectAccessReview,
// list/watch) fails in each way (HTTP 500, 429 with Retry-After, connection reset, stall)
// around an activation and around a deadline, through the HTTPS fault proxy, against the
// real API server. SubjectAccessReview, asked directly, judges what access existed when.
// One test per fault; its eight cells (one per request kind) run at once, each with its own
// namespace and operator.
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { HttpFaultProxy } from '../support/http-fault-proxy.ts';
import { kubeConfigFor } from '../support/cluster.ts';
import { DEADLINE_FAULT_LEAD_MS, DEADLINE_FAULT_MS, FAULTS, REQUEST_KINDS, runCell, type CellResult, type RequestKind } from '../support/fault-matrix.ts';

/** Access may outlast the deadline only while its revocation itself is failing, plus this. */
const LATENESS_SLACK_MS = 2000;

const latenessBound = (kind: RequestKind): number =>
  kind === 'RoleBinding delete' ? DEADLINE_FAULT_MS - DEADLINE_FAULT_LEAD_MS + LATENESS_SLACK_MS : LATENESS_SLACK_MS;

/** What must hold in every cell; each broken promise as one line. */
function violations(r: CellResult): string[] {
  const out: string[] = [];
  const cell = `${r.kind} × ${r.fault} (${r.namespace})`;
  const say = (what: string): void => {
    out.push(`${cell}: ${what}`);
  };
  const expiresAt = Date.parse(r.active.status?.expiresAt ?? '');
  if (r.faulted === 0) say('the fault never met a request (the matcher is wrong)');
  // Access never exists without its persisted deadline.
  const firstAllowed = r.observations.find((o) => o.allowed);
  if (!firstAllowed) say('access never observed while active');
  const indexWrittenAt = r.indexWritten?.at;
  if (indexWrittenAt === undefined) say(`no index write recorded the active entry with expiresAt ${String(r.active.status?.expiresAt)}`);
  else {
    if (firstAllowed && firstAllowed.at < indexWrittenAt)
      say(`access observed ${String(indexWrittenAt - firstAllowed.at)} ms before the index entry was written`);
    const early = r.bindingWrites.filter((w) => w.receivedAt < indexWrittenAt);
    if (early.length > 0) say(`${String(early.length)} RoleBinding apply sent before the index entry was written`);
  }
  // Access never exists past the deadline (beyond what a failing revocation forces).
  if (!(r.latenessMs <= latenessBound(r.kind))) say(`access ended ${String(r.latenessMs)} ms after the deadline (bound ${String(latenessBound(r.kind))} ms)`);
  // A truthful end.
  if (r.ended.status?.expiresAt !== r.active.status?.expiresAt)
    say(`expiresAt moved: ${String(r.active.status?.expiresAt)} → ${String(r.ended.status?.expiresAt)}`);
  const lifecycle = r.audits.map((a) => a.event).filter((e) => ['grant.activated', 'grant.expired', 'grant.revoked', 'grant.denied'].includes(e));
  if (lifecycle.join() !== 'grant.activated,grant.expired') say(`audit lifecycle ${lifecycle.join() || '(none)'}, want grant.activated,grant.expired`);
  const expiredAt = Date.parse(r.audits.find((a) => a.event === 'grant.expired')?.at ?? '');
  if (expiredAt < expiresAt) say('grant.expired audit line dated before the deadline');
  if (!r.audits.some((a) => a.event === 'grant.revocation-verified')) say('no grant.revocation-verified audit line');
  // Nothing left behind.
  if (r.rbacLeft.role || r.rbacLeft.binding) say(`left behind: ${JSON.stringify(r.rbacLeft)}`);
  if (r.indexAfter?.active?.some((e) => e.grant === 'g')) say('index still lists the grant as active');
  if (!r.indexAfter?.ended?.some((e) => e.grant === 'g' && e.phase === 'Expired')) say('index has no Expired record of the grant');
  return out;
}

const row = (r: CellResult): string =>
  `[fault-matrix] ${r.kind.padEnd(18)} ${r.fault.padEnd(8)} faulted ${String(r.faulted).padStart(3)}  ready +${String(r.readyAfterClearMs).padStart(5)} ms after clear  access ended ${String(r.latenessMs).padStart(5)} ms after deadline  converged +${String(r.convergedAfterClearMs).padStart(5)} ms after clear\n`;

// The whole matrix by default; DEBUGGRANT_FAULT_MATRIX=500,stall (names as in FAULTS) runs a subset.
const selected = process.env.DEBUGGRANT_FAULT_MATRIX?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const faults = Object.keys(FAULTS).filter((f) => !selected || selected.some((s) => f.toLowerCase().includes(s.toLowerCase())));

describe('fault matrix: each request kind failing around an activation and a deadline', () => {
  let proxy: HttpFaultProxy;
  beforeAll(async () => {
    proxy = await HttpFaultProxy.start(kubeConfigFor('admin'));
  });
  afterAll(async () => {
    await proxy.close();
  });

  test.each(faults)(
    '%s',
    async (fault) => {
      const kinds = Object.keys(REQUEST_KINDS) as RequestKind[];
      // The cells' operators share this process: a starved process delays them all alike.
      const loopDelay = monitorEventLoopDelay({ resolution: 20 });
      loopDelay.enable();
      const settled = await Promise.allSettled(kinds.map((kind) => runCell(proxy, kind, fault)));
      loopDelay.disable();
      process.stderr.write(
        `[fault-matrix] ${fault}: this process's event loop delay max ${String(Math.round(loopDelay.max / 1e6))} ms, p99 ${String(Math.round(loopDelay.percentile(99) / 1e6))} ms; load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}\n`,
      );
      const problems: string[] = [];
      settled.forEach((s, i) => {
        if (s.status === 'fulfilled') {
          process.stderr.write(row(s.value));
          problems.push(...violations(s.value));
        } else {
          problems.push(`${String(kinds[i])} × ${fault}: ${s.reason instanceof Error ? s.reason.message : String(s.reason)}`);
        }
      });
      expect(problems).toEqual([]);
    },
    120_000,
  );
});
