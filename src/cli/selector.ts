// kubectl's label selector syntax (`app=web,tier!=db,env in (a,b),env notin (c),track,!legacy`)
// turned into a LabelSelector, as apimachinery's ParseToLabelSelector does: `=` and `==`
// become matchLabels, the rest matchExpressions. Key and value syntax is left to the schema,
// which reports it at the field like the API server would.
import type { PodSelector } from '../api/schema.ts';
import { UsageError } from './errors.ts';

type Requirement = NonNullable<PodSelector['matchExpressions']>[number];

/** Splits at top-level commas: the commas inside `in (a,b)` belong to the set. */
function requirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new UsageError(`--selector "${text}": ")" without "("`);
    if (ch === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  if (depth !== 0) throw new UsageError(`--selector "${text}": "(" without ")"`);
  parts.push(current.trim());
  return parts;
}

const SET = /^(\S+)\s+(in|notin)\s*\((.*)\)$/;
const EQUALITY = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/;

export function parseSelector(text: string): PodSelector {
  const matchLabels: Record<string, string> = {};
  const matchExpressions: Requirement[] = [];
  for (const part of requirements(text)) {
    if (part === '') throw new UsageError(`--selector "${text}": an empty requirement (two commas, or a comma at an end)`);
    const set = SET.exec(part);
    const eq = EQUALITY.exec(part);
    if (set) {
      const [, key = '', op, list = ''] = set;
      const values = list.split(',').map((v) => v.trim());
      if (values.some((v) => v === '')) throw new UsageError(`--selector "${part}": the set needs values, e.g. ${key} ${op ?? 'in'} (a,b)`);
      matchExpressions.push({ key, operator: op === 'in' ? 'In' : 'NotIn', values });
    } else if (eq) {
      const [, key = '', op, value = ''] = eq;
      if (op === '!=') matchExpressions.push({ key, operator: 'NotIn', values: [value] });
      else if (key in matchLabels && matchLabels[key] !== value)
        throw new UsageError(`--selector "${text}": ${key} cannot equal both ${matchLabels[key] ?? ''} and ${value}`);
      else matchLabels[key] = value;
    } else if (/^!\s*[^\s=!(),]+$/.test(part)) {
      matchExpressions.push({ key: part.slice(1).trim(), operator: 'DoesNotExist' });
    } else if (/^[^\s=!(),<>]+$/.test(part)) {
      matchExpressions.push({ key: part, operator: 'Exists' });
    } else {
      throw new UsageError(`--selector: cannot read "${part}"; use key=value, key!=value, key in (a,b), key notin (a,b), key or !key`);
    }
  }
  return {
    ...(Object.keys(matchLabels).length > 0 ? { matchLabels } : {}),
    ...(matchExpressions.length > 0 ? { matchExpressions } : {}),
  };
}
