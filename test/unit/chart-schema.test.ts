// The chart validates its `config` values with the operator's own schema; the committed
// values.schema.json must be what src/config.ts generates today.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SCHEMA_FILE, schemaText } from '../../hack/chart-schema.ts';
import { parseConfig } from '../../src/config.ts';

describe('chart values schema', () => {
  test('is generated from src/config.ts (run `npm run chart:schema` when this fails)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(schemaText());
  });

  test("the chart's default config is one the operator accepts", () => {
    const values = parse(readFileSync(new URL('../../charts/debuggrant/values.yaml', import.meta.url), 'utf8')) as { config: unknown };
    expect(parseConfig(values.config).metrics).toEqual({ bindAddress: ':8443', secure: true });
  });
});
