import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { parseConfig } from '../../src/config.ts';
import { auditRbac, formatAudit } from '../../src/cli/audit.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { grantRows, grantsCovering } from '../../src/cli/grants-view.ts';
import { buildGrant, type NewGrantFlags } from '../../src/cli/new.ts';
import { formatReport, runValidate, validatePaths } from '../../src/cli/validate.ts';
import { parseInvocation } from '../../src/cli/args.ts';
import { LABEL_KEY_MESSAGE } from '../../src/api/labels.ts';

const image = `registry.example.com/debug/netshoot@sha256:${'a'.repeat(64)}`;
const flags: NewGrantFlags = {
  name: 'inc-1',
  namespace: 'shop',
  user: 'alice',
  selector: 'app=checkout,tier=web',
  image,
  ttl: '2h',
  reason: 'INC-1 checkout slow',
  access: ['debug'],
  profile: 'restricted',
  onExpiry: 'Flag',
  mergeWindow: '24h',
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
    [{ selector: 'app in (a' }, '"(" without ")"'],
    [{ selector: 'app>3' }, 'cannot read "app>3"'],
    [{ selector: 'tier!=db' }, 'podSelector must name the pods'],
    [{ selector: 'tier!=db,X_=a' }, 'spec.podSelector.matchLabels.X_: label keys must be qualified names'],
    [{ name: 'X_bad' }, 'metadata.name: must be a lowercase RFC 1123 subdomain'],
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
  const good = `apiVersion: debuggrant.dev/v1alpha1\nkind: DebugGrant\nmetadata: {name: ok, namespace: shop}\nspec: {subject: {kind: User, name: alice}, podSelector: {matchLabels: {app: a}}, image: "docker.io/x@sha256:${'b'.repeat(64)}", ttl: 1h, reason: "INC-2 needs a look"}`;

  test('names file, line, column and field of each problem, once; policy needs --config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-validate-'));
    writeFileSync(
      join(dir, 'a.yaml'),
      [
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}',
        good,
        [
          'apiVersion: debuggrant.dev/v1alpha1',
          'kind: DebugGrant',
          'metadata: {name: X_bad, namespace: shop}',
          'spec:',
          '  subject: {kind: User, name: alice}',
          '  podSelector:',
          '    matchLabels: {tier!: db}',
          '  image: x:latest',
          '  ttl: 1h',
          '  reason: INC-2 needs a look',
          '  Profile: general',
        ].join('\n'),
      ].join('\n---\n'),
    );
    writeFileSync(join(dir, 'broken.yml'), 'kind: [unclosed\nspec: {a: b');
    const schemaOnly = validatePaths([dir], undefined);
    expect(schemaOnly.grants).toBe(2);
    expect(formatReport(schemaOnly, false).replaceAll(dir, '')).toBe(
      [
        "/a.yaml:12:12: metadata.name: must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. inc-4211-checkout)",
        `/a.yaml:16:19: spec.podSelector.matchLabels.tier!: ${LABEL_KEY_MESSAGE}`,
        '/a.yaml:17:3: spec.image: image must be pinned by digest, e.g. registry.example.com/debug/netshoot@sha256:<64 hex> (a tag alone can be moved)',
        '/a.yaml:20:3: spec.Profile: unknown field: the API server refuses it (field names are case-sensitive)',
        '/broken.yml:2:1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
        '5 problem(s) in 2 DebugGrant(s), 2 file(s)',
        '',
      ].join('\n'),
    );
    const withPolicy = validatePaths([dir], parseConfig({ approvedRegistries: ['registry.example.com/debug/'] }));
    expect(withPolicy.problems).toContainEqual(
      expect.objectContaining({
        grant: 'shop/ok',
        line: 8,
        column: 82,
        field: 'spec.image',
        message: expect.stringContaining('not from an approved registry') as unknown,
      }),
    );
    expect(validatePaths([join(dir, 'missing.yaml')], undefined).problems[0]?.message).toBe('cannot read this file');
  });

  test('with --config, a grant in a reserved namespace is named at metadata.namespace, as the grant-creation policy refuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-validate-'));
    writeFileSync(join(dir, 'g.yaml'), good.replace('namespace: shop', 'namespace: kube-system'));
    const config = parseConfig({ approvedRegistries: ['docker.io/'] });
    expect(validatePaths([dir], undefined).valid).toBe(true);
    expect(formatReport(validatePaths([dir], config), true).replaceAll(dir, '')).toBe(
      [
        "/g.yaml:3:22: metadata.namespace: kube-system is a reserved namespace (kube-system, kube-public, kube-node-lease): debuggrant never grants access in the operator's own namespace or a system namespace",
        '1 problem(s) in 1 DebugGrant(s), 1 file(s)',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'g.yaml'), good);
    expect(validatePaths([dir], config).valid).toBe(true);
  });

  test("a missing field is reported at its parent, with the API server's word for it", () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-validate-'));
    writeFileSync(join(dir, 'g.yaml'), good.replace('reason: "INC-2 needs a look"', 'ttl2: 1h').replace(', ttl: 1h', ''));
    expect(validatePaths([dir], undefined).problems.map((p) => `${String(p.line)}:${String(p.column)} ${p.field}: ${p.message}`)).toEqual([
      '4:1 spec.ttl: is required',
      '4:1 spec.reason: is required',
      '4:176 spec.ttl2: unknown field: the API server refuses it (field names are case-sensitive)',
    ]);
  });

  test('nothing to check is a usage error, not an ok', () => {
    const empty = mkdtempSync(join(tmpdir(), 'dg-validate-'));
    const validate = (path: string) => () => runValidate({ ...parseInvocation(['validate', path]) });
    expect(validate(empty)).toThrow(new UsageError(`no *.yaml or *.yml files in ${empty}`));
    writeFileSync(join(empty, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}');
    expect(validate(empty)).toThrow(new UsageError(`no DebugGrant in 1 file(s) of ${empty}: nothing was checked`));
  });

  test('the same grant in two files is reported', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-validate-'));
    writeFileSync(join(dir, 'a.yaml'), good);
    writeFileSync(join(dir, 'b.yaml'), good);
    expect(validatePaths([dir], undefined).problems.map((p) => p.message)).toEqual([`shop/ok is also defined at ${join(dir, 'a.yaml')}:1: one file per grant`]);
  });
});

describe('kubectl debuggrant audit', () => {
  test("finds exec, nodes/proxy, wildcards and cluster-admin-like bindings, not the operator's grants", () => {
    const findings = auditRbac({
      clusterRoles: [
        { metadata: { name: 'god' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
        { metadata: { name: 'node-proxy' }, rules: [{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }] },
        { metadata: { name: 'read' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] },
      ],
      roles: [
        { metadata: { name: 'exec', namespace: 'shop' }, rules: [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'], resourceNames: ['web-1'] }] },
        {
          metadata: { name: 'debuggrant-x', namespace: 'shop' },
          rules: [{ apiGroups: [''], resources: ['pods/ephemeralcontainers'], verbs: ['patch'], resourceNames: ['a'] }],
        },
      ],
      clusterRoleBindings: [
        {
          metadata: { name: 'ops' },
          roleRef: { apiGroup: '', kind: 'ClusterRole', name: 'god' },
          subjects: [
            { kind: 'Group', name: 'ops' },
            { kind: 'Group', name: 'system:masters' },
          ],
        },
        {
          metadata: { name: 'monitoring' },
          roleRef: { apiGroup: '', kind: 'ClusterRole', name: 'node-proxy' },
          subjects: [{ kind: 'ServiceAccount', name: 'prom', namespace: 'mon' }],
        },
        { metadata: { name: 'readers' }, roleRef: { apiGroup: '', kind: 'ClusterRole', name: 'read' }, subjects: [{ kind: 'Group', name: 'all' }] },
      ],
      roleBindings: [
        { metadata: { name: 'legacy', namespace: 'shop' }, roleRef: { apiGroup: '', kind: 'Role', name: 'exec' }, subjects: [{ kind: 'User', name: 'bob' }] },
        {
          metadata: { name: 'debuggrant-x', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'debuggrant' } },
          roleRef: { apiGroup: '', kind: 'Role', name: 'debuggrant-x' },
          subjects: [{ kind: 'User', name: 'alice' }],
        },
      ],
    });
    expect(findings.map((f) => `${f.subject} ${f.scope} ${f.privileges.join(',')} ${String(f.limitedToNames)}`)).toEqual([
      'bob shop exec true',
      'mon/prom cluster nodes/proxy false',
      'ops cluster cluster-admin-like,nodes/proxy,exec,attach,port-forward,ephemeral-containers,wildcard false',
    ]);
    expect(formatAudit(findings)).toMatch(
      /^SUBJECT\s+KIND\s+SCOPE\s+PRIVILEGES\s+VIA\nbob\s+User\s+shop\s+exec \(named pods\)\s+RoleBinding\/shop\/legacy -> Role\/exec/,
    );
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
    expect(rows.map((r) => [r.name, r.timeLeft])).toEqual([
      ['a', 'ended 1h ago'],
      ['b', '30m'],
    ]);
    const me = { username: 'alice', groups: ['ops'] };
    expect(
      grantsCovering([grant('b', { kind: 'User', name: 'alice' }, 'Active', ['p']), grant('c', { kind: 'Group', name: 'ops' }, 'Active', ['q'])], 'p', me).map(
        (c) => [c.grant.metadata.name, c.profile],
      ),
    ).toEqual([['b', 'netadmin']]);
  });
});
