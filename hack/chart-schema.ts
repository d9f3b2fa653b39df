// Writes charts/debuggrant/values.schema.json: the chart's `config` block is validated by
// the operator's own configuration schema (src/config.ts, zod), so `helm install` refuses a
// misspelt or mistyped key before a pod starts. test/unit/chart-schema.test.ts checks it is
// current: run `npm run chart:schema` after changing src/config.ts.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { OperatorConfigSchema } from '../src/config.ts';

export const SCHEMA_FILE = fileURLToPath(new URL('../charts/debuggrant/values.schema.json', import.meta.url));

const subjects = { type: 'array', items: { type: 'string', minLength: 1 } };

export function valuesSchema(): Record<string, unknown> {
  const { $schema, ...config } = z.toJSONSchema(OperatorConfigSchema, { io: 'input', unrepresentable: 'any' });
  return {
    $schema,
    type: 'object',
    properties: {
      config,
      viewers: { type: 'object', additionalProperties: false, properties: { users: subjects, groups: subjects, aggregateToView: { type: 'boolean' } } },
      metricsReaders: {
        type: 'array',
        items: {
          type: 'object',
          required: ['kind', 'name'],
          properties: { kind: { enum: ['User', 'Group', 'ServiceAccount'] }, name: { type: 'string', minLength: 1 } },
        },
      },
      prometheus: { type: 'object', properties: { enabled: { type: 'boolean' } } },
      admission: { type: 'object', properties: { enabled: { type: 'boolean' } } },
      argocd: { type: 'object', additionalProperties: false, properties: { healthCheck: { type: 'boolean' } } },
      flowControl: { type: 'object', properties: { enabled: { type: 'boolean' } } },
      replicaCount: { type: 'integer', minimum: 1 },
      image: {
        type: 'object',
        properties: { repository: { type: 'string', minLength: 1 }, tag: { type: 'string' }, digest: { type: 'string', pattern: '^(sha256:[a-f0-9]{64})?$' } },
      },
    },
  };
}

export const schemaText = (): string => `${JSON.stringify(valuesSchema(), null, 2)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SCHEMA_FILE, schemaText());
  process.stderr.write(`[chart] wrote ${SCHEMA_FILE}\n`);
}
