// Runs the real operator in the test process, watching only the test file's namespaces
// (so test files running in parallel never share grants), against the real control plane.
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type * as k8s from '@kubernetes/client-node';
import { parseConfig, type OperatorConfig } from '../../src/config.ts';
import { fromKubeConfig, requestPolicy, type KubeApi } from '../../src/kube/client.ts';
import { makeLogger } from '../../src/log.ts';
import { Operator } from '../../src/operator.ts';
import type { AuditRecord } from '../../src/log.ts';
import { spawnOperator, type OperatorProcess } from '../../hack/operator-process.ts';
import { kubeConfigFor, plane } from './cluster.ts';
import { APPROVED_REGISTRY } from './policy.ts';

export { APPROVED_REGISTRY, DEBUG_IMAGE } from './policy.ts';

export interface TestOperator {
  operator: Operator;
  config: OperatorConfig;
  /** Every JSON log line so far, parsed. */
  lines: Record<string, unknown>[];
  audits(): AuditRecord[];
  stop(): Promise<void>;
}

export interface TestOperatorOptions {
  /** Put something between the operator and its real client (e.g. withFaults from api-faults.ts). */
  wrapApi?: (api: KubeApi) => KubeApi;
  /** How the operator reaches the API server (e.g. through a FaultProxy); admin directly by default. */
  kubeConfig?: k8s.KubeConfig;
  /** How long stop() waits for work in flight (the operator's default otherwise). */
  stopGraceMs?: number;
}

export async function startTestOperator(
  namespaces: string[],
  overrides: Record<string, unknown> = {},
  options: TestOperatorOptions = {},
): Promise<TestOperator> {
  const config = parseConfig({ approvedRegistries: [APPROVED_REGISTRY], namespaces, maxTtl: '2h', workers: 4, revocationSettle: '2s', ...overrides });
  const lines: Record<string, unknown>[] = [];
  const file: WriteStream = createWriteStream(join(plane().dir, `operator-${namespaces.join('-')}.log`), { flags: 'a' });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      // A line logged after stop() (an Event send that was still in flight) is kept in `lines`;
      // writing it to the closed file would throw an unhandled error that ends the test run.
      if (!file.writableEnded) file.write(chunk);
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = makeLogger('debug', sink);
  const api = fromKubeConfig(options.kubeConfig ?? kubeConfigFor('admin'), requestPolicy(config, log));
  const operator = new Operator({
    api: options.wrapApi ? options.wrapApi(api) : api,
    config,
    log,
    processMetrics: false,
    identity: 'test-operator',
    stopGraceMs: options.stopGraceMs,
  });
  await operator.start();
  return {
    operator,
    config,
    lines,
    audits: () => lines.map((l) => l.audit).filter((a): a is AuditRecord => typeof a === 'object' && a !== null),
    async stop() {
      await operator.stop();
      // A stop that had to abandon work means a reconcile never settled: its log's end goes to the
      // run's output (the plane's directory, with the whole log, is deleted after the run).
      if (lines.some((l) => l.level === 50 && typeof l.msg === 'string' && l.msg.includes('abandoned')))
        process.stderr.write(
          `[operator ${namespaces.join(',')}] stop abandoned work in flight; its last log lines:\n${lines
            .slice(-60)
            .map((l) => JSON.stringify(l))
            .join('\n')}\n`,
        );
      api.connection.close();
      await new Promise<void>((r) => file.end(r));
    },
  };
}

/**
 * The operator as its own process (src/main.ts), for crashes (kill -9) and failover: same
 * configuration defaults as startTestOperator, its log next to the control plane's. It reads
 * the control plane's kubeconfig unless given another file (e.g. one through a FaultProxy).
 */
export function spawnTestOperator(
  name: string,
  namespaces: string[],
  overrides: Record<string, unknown> = {},
  env: Record<string, string> = {},
  kubeconfig = plane().kubeconfig,
): Promise<OperatorProcess> {
  return spawnOperator({
    kubeconfig,
    dir: plane().dir,
    name,
    config: { approvedRegistries: [APPROVED_REGISTRY], namespaces, maxTtl: '2h', workers: 4, revocationSettle: '2s', ...overrides },
    env: { DEBUGGRANT_IDENTITY: name, LOG_LEVEL: 'debug', ...env },
  });
}
