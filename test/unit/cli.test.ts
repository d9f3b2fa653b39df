import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { parseConfig } from '../../src/config.ts';
import { auditRbac, formatAudit } from '../../src/cli/audit.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { grantRows, grantsCovering } from '../../src/cli/grants-view.ts';
import { buildGrant, type NewGrantFlags } from '../../src/cli/new.ts';
import { validatePaths } from '../../src/cli/validate.ts';

const image = `registry.example.com/debug/netshoot@sha256:${'a'.repeat(64)}`;
const flags: NewGrantFlags = {
  name: 'inc-1', namespace: 'shop', user: 'alice', selector: 'app=checkout,tier=web', image, ttl: '2h',
  reason: 'INC-1 checkout slow', access: ['debug'], profile: 'restricted', onExpiry: 'Flag', mergeWindow: '24h',
};

describe('kubectl debuggrant new', () => {
  test('notAfter = now + merge window + ttl; the selector becomes matchLabels', () => {
    const doc = buildGrant(flags, DateTime.fromISO('2026-11-23T10:00:00.123Z')) as { spec: Record<string, unknown> };
    expect(doc.spec.notAfter).toBe('2026-11-24T12:00:00Z');
    expect(doc.spec.podSelector).toEqual({ matchLabels: { app: 'checkout', tier: 'web' } });
    expect(doc.spec.subject).toEqual({ kind: 'User', name: 'alice' });
  });

  test.each([
    [{ user: undefined }, 'name exactly one subject'],
    [{ group: 'g' }, 'name exactly one subject'],
    [{ user: undefined, serviceAccount: 'bot' }, '--service-account takes NAMESPACE/NAME'],
    [{ selector: 'app' }, '--selector takes key=value pairs'],
    [{ ttl: '2 hours' }, '--ttl 2 hours is not a duration'],
    [{ image: 'netshoot:latest' }, 'spec.image: image must be pinned by digest'],
    [{ reason: 'debug' }, 'spec.reason: reason must say why'],
    [{ name: undefined }, '--name is required'],
  ])('%j is refused: %s', (over, message) => {
    expect(() => buildGrant({ ...flags, ...over }, DateTime.now())).toThrow(UsageError);
    expect(() => buildGrant({ ...flags, ...over }, DateTime.now())).toThrow(message);
  });
});

describe('kubectl debuggrant validate', () => {
  test('names file, line, grant and field; policy needs --config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-validate-'));
    writeFileSync(join(dir, 'a.yaml'), [
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}',
      `apiVersion: debuggrant.dev/v1alpha1\nkind: DebugGrant\nmetadata: {name: ok, namespace: shop}\nspec: {subject: {kind: User, name: alice}, podSelector: {matchLabels: {app: a}}, image: "docker.io/x@sha256:${'b'.repeat(64)}", ttl: 1h, reason: "INC-2 needs a look"}`,
      'apiVersion: debuggrant.dev/v1alpha1\nkind: DebugGrant\nmetadata: {name: bad, namespace: shop}\nspec: {subject: {kind: User, name: alice}, podSelector: {}, image: "x:latest", ttl: 1h, reason: "INC-2 needs a look"}',
    ].join('\n---\n'));
    writeFileSync(join(dir, 'broken.yml'), 'kind: [unclosed');
    const schemaOnly = validatePaths([dir], undefined);
    expect(schemaOnly.grants).toBe(2);
    expect(schemaOnly.problems.map((p) => `${p.file.replace(dir, '')}:${String(p.line)} ${p.grant} ${p.message.split(':')[0] ?? ''}`)).toEqual([
      '/a.yaml:9 shop/bad spec.podSelector', '/a.yaml:9 shop/bad spec.image', '/broken.yml:1  not valid YAML',
    ]);
    const withPolicy = validatePaths([dir], parseConfig({ approvedRegistries: ['registry.example.com/debug/'] }));
    expect(withPolicy.problems.some((p) => p.grant === 'shop/ok' && p.message.includes('not from an approved registry'))).toBe(true);
    expect(validatePaths([join(dir, 'missing.yaml')], undefined).problems[0]?.message).toBe('cannot read this file');
  });
});

describe('kubectl debuggrant audit', () => {
  test('finds exec, nodes/proxy, wildcards and cluster-admin-like bindings, not the operator\'s grants', () => {
    const findings = auditRbac({
      clusterRoles: [
        { metadata: { name: 'god' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
        { metadata: { name: 'node-proxy' }, rules: [{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }] },
        { metadata: { name: 'read' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] },
      ],
      roles: [
        { metadata: { name: 'exec', namespace: 'shop' }, rules: [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'], resourceNames: ['web-1'] }] },
        { metadata: { name: 'debuggrant-x', namespace: 'shop' }, rules: [{ apiGroups: [''], resources: ['pods/ephemeralcontainers'], verbs: ['patch'], resourceNames: ['a'] }] },
      ],
      clusterRoleBindings: [
        { metadata: { name: 'ops' }, roleRef: { apiGroup: '', kind: 'ClusterRole', name: 'god' }, subjects: [{ kind: 'Group', name: 'ops' }, { kind: 'Group', name: 'system:masters' }] },
        { metadata: { name: 'monitoring' }, roleRef: { apiGroup: '', kind: 'ClusterRole', name: 'node-proxy' }, subjects: [{ kind: 'ServiceAccount', name: 'prom', namespace: 'mon' }] },
        { metadata: { name: 'readers' }, roleRef: { apiGroup: '', kind: 'ClusterRole', name: 'read' }, subjects: [{ kind: 'Group', name: 'all' }] },
      ],
      roleBindings: [
        { metadata: { name: 'legacy', namespace: 'shop' }, roleRef: { apiGroup: '', kind: 'Role', name: 'exec' }, subjects: [{ kind: 'User', name: 'bob' }] },
        { metadata: { name: 'debuggrant-x', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'debuggrant' } }, roleRef: { apiGroup: '', kind: 'Role', name: 'debuggrant-x' }, subjects: [{ kind: 'User', name: 'alice' }] },
      ],
    });
    expect(findings.map((f) => `${f.subject} ${f.scope} ${f.privileges.join(',')} ${String(f.limitedToNames)}`)).toEqual([
      'bob shop exec true',
      'mon/prom cluster nodes/proxy false',
      'ops cluster cluster-admin-like,nodes/proxy,exec,attach,port-forward,ephemeral-containers,wildcard false',
    ]);
    expect(formatAudit(findings)).toMatch(/^SUBJECT\s+KIND\s+SCOPE\s+PRIVILEGES\s+VIA\nbob\s+User\s+shop\s+exec \(named pods\)\s+RoleBinding\/shop\/legacy -> Role\/exec/);
  });
});

describe('grant views', () => {
  const now = Date.parse('2026-11-23T10:00:00Z');
  const grant = (name: string, subject: Record<string, string>, phase: string, pods: string[]) => ({
    metadata: { name, namespace: 'shop' },
    spec: { subject, podSelector: { matchLabels: { a: 'b' } }, image, ttl: '1h', reason: 'INC-3 look into it', profile: 'netadmin' },
    status: { phase: phase as 'Active', pods, expiresAt: '2026-11-23T10:30:00Z', endedAt: phase === 'Active' ? undefined : '2026-11-23T09:00:00Z' },
  });

  test('time left, and which grants cover a pod for the caller', () => {
    const rows = grantRows([grant('b', { kind: 'User', name: 'alice' }, 'Active', ['p']), grant('a', { kind: 'Group', name: 'ops' }, 'Expired', ['p'])], now);
    expect(rows.map((r) => [r.name, r.timeLeft])).toEqual([['a', 'ended 1h ago'], ['b', '30m']]);
    const me = { username: 'alice', groups: ['ops'] };
    expect(grantsCovering([grant('b', { kind: 'User', name: 'alice' }, 'Active', ['p']), grant('c', { kind: 'Group', name: 'ops' }, 'Active', ['q'])], 'p', me)
      .map((c) => [c.grant.metadata.name, c.profile])).toEqual([['b', 'netadmin']]);
  });
});
