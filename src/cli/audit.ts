// `kubectl debuggrant audit`: standing debug privileges that bypass grants. Who can exec,
// attach, port-forward, add ephemeral containers or reach the kubelet (nodes/proxy), through
// which binding, including wildcard rules and cluster-admin-like roles. Pure: it reads an
// RBAC snapshot and decides; src/kube/queries.ts takes the snapshot.
import type { RbacV1Subject, V1PolicyRule } from '@kubernetes/client-node';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../api/names.ts';
import type { RbacSnapshot } from '../kube/queries.ts';

export type DebugPrivilege = 'cluster-admin-like' | 'nodes/proxy' | 'exec' | 'attach' | 'port-forward' | 'ephemeral-containers' | 'wildcard';

export interface AuditFinding {
  subject: string;
  subjectKind: string;
  /** "cluster" or the namespace the binding applies to. */
  scope: string;
  privileges: DebugPrivilege[];
  binding: string;
  role: string;
  /** Only some pods (resourceNames) rather than all of them. */
  limitedToNames: boolean;
}

const has = (list: readonly string[] | undefined, ...wanted: string[]): boolean => (list ?? []).some((x) => x === '*' || wanted.includes(x));

function privilegesOf(rule: V1PolicyRule): DebugPrivilege[] {
  if (rule.nonResourceURLs?.length) return [];
  const core = has(rule.apiGroups, '');
  const found: DebugPrivilege[] = [];
  const res = rule.resources;
  const verbs = rule.verbs;
  const star = (l: readonly string[] | undefined): boolean => (l ?? []).includes('*');
  if (star(rule.apiGroups) && star(res) && star(verbs)) found.push('cluster-admin-like');
  if (core && has(res, 'nodes/proxy', 'nodes/*') && has(verbs, 'get', 'create')) found.push('nodes/proxy');
  if (core && has(res, 'pods/exec', 'pods/*') && has(verbs, 'create')) found.push('exec');
  if (core && has(res, 'pods/attach', 'pods/*') && has(verbs, 'create')) found.push('attach');
  if (core && has(res, 'pods/portforward', 'pods/*') && has(verbs, 'create')) found.push('port-forward');
  if (core && has(res, 'pods/ephemeralcontainers', 'pods/*') && has(verbs, 'patch', 'update')) found.push('ephemeral-containers');
  if (star(res) || star(verbs)) found.push('wildcard');
  return found;
}

export function auditRbac(s: RbacSnapshot, includeSystem = false): AuditFinding[] {
  const clusterRoles = new Map(s.clusterRoles.map((r) => [r.metadata?.name ?? '', r.rules ?? []]));
  const roles = new Map(s.roles.map((r) => [`${r.metadata?.namespace ?? ''}/${r.metadata?.name ?? ''}`, r.rules ?? []]));
  const findings: AuditFinding[] = [];
  const bindings = [
    ...s.clusterRoleBindings.map((b) => ({ b, scope: 'cluster', name: `ClusterRoleBinding/${b.metadata?.name ?? ''}` })),
    ...s.roleBindings.map((b) => ({ b, scope: b.metadata?.namespace ?? '', name: `RoleBinding/${b.metadata?.namespace ?? ''}/${b.metadata?.name ?? ''}` })),
  ];
  for (const { b, scope, name } of bindings) {
    // The operator's own grants are the sanctioned path, not a bypass.
    if (b.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY) continue;
    const rules = b.roleRef.kind === 'ClusterRole' ? clusterRoles.get(b.roleRef.name) : roles.get(`${scope}/${b.roleRef.name}`);
    if (!rules) continue;
    const privileges = [...new Set(rules.flatMap(privilegesOf))];
    if (privileges.length === 0) continue;
    const limitedToNames = rules.filter((r) => privilegesOf(r).length > 0).every((r) => (r.resourceNames ?? []).length > 0);
    for (const subject of b.subjects ?? []) {
      if (!includeSystem && isSystem(subject)) continue;
      findings.push({
        subject: subject.kind === 'ServiceAccount' ? `${subject.namespace ?? ''}/${subject.name}` : subject.name,
        subjectKind: subject.kind,
        scope,
        privileges: order(privileges),
        binding: name,
        role: `${b.roleRef.kind}/${b.roleRef.name}`,
        limitedToNames,
      });
    }
  }
  return findings.sort((a, b) => a.subject.localeCompare(b.subject) || a.scope.localeCompare(b.scope));
}

const ORDER: DebugPrivilege[] = ['cluster-admin-like', 'nodes/proxy', 'exec', 'attach', 'port-forward', 'ephemeral-containers', 'wildcard'];
const order = (p: DebugPrivilege[]): DebugPrivilege[] => ORDER.filter((x) => p.includes(x));

/** Kubernetes' own components and groups: reported only with --include-system. */
function isSystem(s: RbacV1Subject): boolean {
  return s.name.startsWith('system:') || (s.kind === 'ServiceAccount' && (s.namespace ?? '').startsWith('kube-'));
}

export function formatAudit(findings: AuditFinding[]): string {
  if (findings.length === 0) return 'no standing debug privileges outside DebugGrants\n';
  const rows = [
    ['SUBJECT', 'KIND', 'SCOPE', 'PRIVILEGES', 'VIA'],
    ...findings.map((f) => [
      f.subject,
      f.subjectKind,
      f.scope,
      f.privileges.join(',') + (f.limitedToNames ? ' (named pods)' : ''),
      `${f.binding} -> ${f.role}`,
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
