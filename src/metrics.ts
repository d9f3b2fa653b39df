// Prometheus metrics. Phase counts are computed at scrape time from the informer cache,
// so they can never drift from what the operator actually holds. Process and Node.js
// metrics keep their conventional names (process_cpu_seconds_total, nodejs_heap_size_used_bytes).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { VERSION } from './version.ts';

export interface Metrics {
  registry: Registry;
  activationLatency: Histogram;
  revocationLateness: Histogram;
  expiries: Counter;
  reconcileErrors: Counter;
  reconcileDuration: Histogram;
  lingeringContainers: Gauge;
  overdueDebugContainers: Gauge;
  apiRequestDuration: Histogram;
}

export function makeMetrics(grantsByPhase: () => Record<string, number>, overdueGrants: () => number, defaults = true): Metrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  new Gauge({ name: 'debuggrant_build_info', help: 'Always 1; the running version in its label', labelNames: ['version'], registers: [registry] }).set(
    { version: VERSION },
    1,
  );
  new Gauge({
    name: 'debuggrant_grants',
    help: 'DebugGrants by phase',
    labelNames: ['phase'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [phase, n] of Object.entries(grantsByPhase())) this.set({ phase }, n);
    },
  });
  new Gauge({
    name: 'debuggrant_grants_past_deadline',
    help: 'Active grants more than 5 s past expiresAt: revocation is failing',
    registers: [registry],
    collect() {
      this.set(overdueGrants());
    },
  });
  return {
    registry,
    activationLatency: new Histogram({
      name: 'debuggrant_activation_latency_seconds',
      help: 'Grant created to access verified by SubjectAccessReview',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    revocationLateness: new Histogram({
      name: 'debuggrant_revocation_lateness_seconds',
      help: 'Deadline to RoleBinding deleted',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    expiries: new Counter({
      name: 'debuggrant_expiries_total',
      help: "Grants that reached their deadline, by who removed the RoleBinding: the operator, or Kubernetes' controllers through the grant's timer Job (no operator got there first)",
      labelNames: ['ended_by'],
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: 'debuggrant_reconcile_errors_total',
      help: 'Failed reconciles (retried with backoff)',
      labelNames: ['controller'],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'debuggrant_reconcile_duration_seconds',
      help: 'Time per reconcile',
      labelNames: ['controller'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    lingeringContainers: new Gauge({
      name: 'debuggrant_lingering_ephemeral_containers',
      help: 'Running ephemeral containers on pods no active grant covers',
      registers: [registry],
    }),
    overdueDebugContainers: new Gauge({
      name: 'debuggrant_debug_containers_past_deadline',
      help: 'Debug containers still running 2 s after the deadline their wrapper carries: the wrapper did not end them',
      registers: [registry],
    }),
    apiRequestDuration: new Histogram({
      name: 'debuggrant_api_request_duration_seconds',
      help: 'Kubernetes API requests made by the operator',
      labelNames: ['operation', 'code', 'resource'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
  };
}
