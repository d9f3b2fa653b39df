// The alerts of config/prometheus/rules.yaml name only metrics the operator exports, with label
// names it sets: a renamed metric or label would otherwise leave an alert that never fires.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { makeMetrics } from '../../src/metrics.ts';

interface Rule {
  alert: string;
  expr: string;
}

const rules: Rule[] = parseAllDocuments(readFileSync(new URL('../../config/prometheus/rules.yaml', import.meta.url), 'utf8'))
  .map((d) => d.toJS() as { kind?: string; spec?: { groups?: { rules?: Rule[] }[] } })
  .filter((d) => d.kind === 'PrometheusRule')
  .flatMap((d) => d.spec?.groups ?? [])
  .flatMap((g) => g.rules ?? []);

/** Each operator metric an expression reads (a histogram's series by its base name), with the label names it matches on. */
function selectors(expr: string): { metric: string; labels: string[] }[] {
  return [...expr.matchAll(/\b(debuggrant_[a-z_]+?)(?:_bucket|_sum|_count)?\b(?:\{([^}]*)\})?/g)].map((m) => ({
    metric: m[1] ?? '',
    labels: [...(m[2] ?? '').matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1] ?? ''),
  }));
}

describe('config/prometheus/rules.yaml', () => {
  const exported = new Map(
    makeMetrics(
      () => ({}),
      () => 0,
      false,
    )
      .registry.getMetricsAsArray()
      .map((m) => [m.name, (m as unknown as { labelNames?: string[] }).labelNames ?? []]),
  );

  test('has the alerts the README lists', () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['DebugGrantOperatorDown', 'DebugGrantPastDeadline', 'DebugGrantSessionPastDeadline', 'DebugGrantExpiredWithoutOperator']),
    );
  });

  test.each(rules.filter((r) => r.expr.includes('debuggrant_')).map((r) => [r.alert, r.expr] as const))(
    '%s reads metrics and labels the operator exports',
    (_alert, expr) => {
      for (const { metric, labels } of selectors(expr)) {
        expect({ metric, exported: exported.has(metric) }).toEqual({ metric, exported: true });
        for (const label of labels) expect({ metric, label, known: exported.get(metric)?.includes(label) }).toEqual({ metric, label, known: true });
      }
    },
  );
});
