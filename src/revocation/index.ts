// Revocation: everything that ends access at a grant's deadline, on every replica (leader or
// standby: deleting a RoleBinding twice is harmless, and a leader crash near a deadline must
// not cost a lease duration). Read it top to bottom in this order:
//
//  1. records.ts        what is on record: a grant's deadline, from its index entry (written
//                       before any RBAC) or its Active status; which grants are due by when.
//  2. deadline-queue.ts one timer for the earliest of many deadlines (a min-heap; no polling).
//  3. lanes.ts          deletes first: the urgent lane for the RoleBinding deletes, everything
//                       else waits behind them (kube/request-lanes.ts is the mechanism).
//  4. revoke-binding.ts the revocation itself: delete the RoleBinding, retried at once on a
//                       fresh connection when the connection failed.
//  5. fast-path.ts      at a deadline: delete that RoleBinding and nothing else, under the
//                       grant's RBAC lock, in the urgent lane.
//  6. deadline-timer.ts the heap wired to the fast path, with its own short retry schedule;
//                       each attempt hands the grant to its full reconcile.
//  7. startup-sweep.ts  at start, before anything else: the RoleBindings of every grant whose
//                       deadline passed while no operator ran (and of grants deleted meanwhile),
//                       from the record alone; the rest of those expiries once pods are listed
//                       (run by the leader: src/controller/leader-runnable.ts).
//  8. revocation-runnable.ts  what every replica runs (needLeaderElection: false): the caches
//                       that hold every deadline and what to delete at it.
//  9. timer-job.ts      the second deadline path, planned: per active grant an inert Job whose
//                       activeDeadlineSeconds ends at the deadline and which alone owns the
//                       RoleBinding, so Kubernetes' Job, TTL and garbage collector controllers
//                       end access with no operator running (config/admission/timers.yaml).
// 10. second-deadline.ts the reconcile's RBAC writer (src/controller/rbac-writer.ts) arms it
//                       before the RoleBinding and disarms it at the end; a refused timer never
//                       holds up the grant.
//
// The rest of an expiry (the Role, the index entry, status, Events, audit lines, verification
// by SubjectAccessReview) is the grant's reconcile (src/controller/). The API server's own
// check, that no RoleBinding of a grant is written without an active index entry, is
// config/admission/rbac-deadline.yaml.
export { keysDueBy } from './records.ts';
export { deletesFirst } from './lanes.ts';
export { DeadlineFastPath } from './fast-path.ts';
export { DeadlineTimer } from './deadline-timer.ts';
export { RevocationRunnable } from './revocation-runnable.ts';
