import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { admissionVariables, renderAdmissionPolicies, shippedVariables } from '../../src/admission/render.ts';
import { parseConfig } from '../../src/config.ts';

const sample = parseConfig(parse(readFileSync(new URL('../../config/samples/operator-config.yaml', import.meta.url), 'utf8')));

describe('admission policy rendering', () => {
  test('the shipped policies enforce what the shipped operator configuration says', () => {
    const want = admissionVariables(sample);
    const shipped = shippedVariables();
    for (const [name, expression] of Object.entries(want)) {
      expect([name, JSON.parse(shipped[name]?.replaceAll("'", '"') ?? 'null')]).toEqual([name, JSON.parse(expression)]);
    }
  });

  test("the Deployment's ConfigMap configures the operator as the shipped policies are configured", () => {
    const manager = parseAllDocuments(readFileSync(new URL('../../config/manager/manager.yaml', import.meta.url), 'utf8')).map(
      (d) => d.toJS() as { kind?: string; data?: Record<string, string> },
    );
    const cm = parseConfig(parse(manager.find((d) => d.kind === 'ConfigMap')?.data?.['config.yaml'] ?? ''));
    expect(admissionVariables(cm)).toEqual(admissionVariables(sample));
  });

  test("variable positions are the ones the README's JSON patches name", () => {
    const docs = renderAdmissionPolicies(sample) as { metadata?: { name?: string }; spec?: { variables?: { name: string }[] } }[];
    const names = (policy: string) => docs.find((d) => d.metadata?.name === policy)?.spec?.variables?.map((v) => v.name);
    expect(names('debuggrant-grant-creation')?.slice(0, 4)).toEqual(['creatorUsers', 'creatorGroups', 'maxTtl', 'approvedRegistries']);
    expect(names('debuggrant-ephemeral-containers')?.[0]).toBe('breakGlassGroups');
    expect(names('debuggrant-session-deadline')?.slice(0, 2)).toEqual(['sessionCommands', 'unboundedImages']);
    expect(names('debuggrant-exec-deadline')?.slice(0, 2)).toEqual(['execWrapper', 'breakGlassGroups']);
  });

  test('configured values replace the variables, and only those', () => {
    const docs = renderAdmissionPolicies({ ...sample, breakGlassGroups: ['sre:break-glass'], maxTtl: '1h' });
    const vars = docs.flatMap((d) => d.spec?.variables ?? []);
    expect(vars.find((v) => v.name === 'breakGlassGroups')?.expression).toBe('["sre:break-glass"]');
    expect(vars.find((v) => v.name === 'maxTtl')?.expression).toBe('"1h"');
    expect(vars.find((v) => v.name === 'added')?.expression).toContain('oldObject.spec.ephemeralContainers');
    expect(docs.map((d) => d.kind)).toEqual([
      ...Array.from({ length: 7 }, () => ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']).flat(), // rbac-deadline.yaml holds two (deadline, marks), timers.yaml two (writes, deletion)
      'MutatingAdmissionPolicy',
      'MutatingAdmissionPolicyBinding',
      'MutatingAdmissionPolicy',
      'MutatingAdmissionPolicyBinding',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding', // stream-audit.yaml
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding', // pod-records.yaml
    ]);
  });

  test('session images become the CEL map of default commands and the list of images that cannot be bounded', () => {
    const vars = admissionVariables({
      ...sample,
      sessionImages: [
        { image: '', wrapper: 'timeout', command: ['sh'] },
        { image: 'registry.example.com/debug/netshoot', wrapper: 'timeout', command: ['zsh', '-l'] },
        { image: 'registry.example.com/debug/tools', wrapper: 'timeout', command: [] },
        { image: 'gcr.io/distroless/', wrapper: 'none', command: [] },
      ],
    });
    expect(vars.sessionCommands).toBe('{"": ["sh"], "registry.example.com/debug/netshoot": ["zsh", "-l"], "registry.example.com/debug/tools": []}');
    expect(vars.unboundedImages).toBe('["gcr.io/distroless/"]');
    expect(admissionVariables({ ...sample, sessionImages: [] }).sessionCommands).toBe('{}');
  });

  test('the mutating and the validating policy compute the deadline wrapper with the same CEL', () => {
    const docs = renderAdmissionPolicies(sample) as { metadata?: { name?: string }; spec?: { variables?: { name: string; expression: string }[] } }[];
    const vars = (policy: string) =>
      Object.fromEntries(docs.find((d) => d.metadata?.name === policy)?.spec?.variables?.map((v) => [v.name, v.expression]) ?? []);
    const mutating = vars('debuggrant-session-deadline');
    const validating = vars('debuggrant-ephemeral-containers');
    for (const name of ['requestTimes', 'deadline', 'requestSecond', 'sessionWrapper', 'sessionCommands', 'unboundedImages']) {
      expect({ [name]: validating[name] }).toEqual({ [name]: mutating[name] });
    }
    const execPolicies = docs.filter((d) => d.metadata?.name === 'debuggrant-exec-deadline' && d.spec?.variables).map((d) => d.spec?.variables);
    expect(execPolicies).toHaveLength(2);
    expect(execPolicies[0]).toEqual(execPolicies[1]);
  });
});
