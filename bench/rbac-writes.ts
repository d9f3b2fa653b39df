// npm run bench -- rbac-writes: what one write of a grant's Role or RoleBinding costs on the
// real local API server, and why (docs/benchmark.md "Activation at scale"). Sequential writes
// (one in flight, so the figures are the server's and the client's, not queueing), per
// identity (the operator's ServiceAccount token with config/rbac, as it ships; the local admin,
// system:masters: no RBAC escalation check, exempt from APF), per method (server-side apply
// with force of a new object, as the operator writes them; POST create; server-side apply and
// PUT of an object that is already so), without and then with config/admission (its RoleBinding
// policies read the namespace's DebugGrantIndex: BENCH_RBAC_ENTRIES active entries, 100 as with
// 10,000 grants over 100 namespaces). Client time beside the API server's own (audit log:
// requestReceived → ResponseComplete). BENCH_RBAC_WRITES (20) per cell.
import { performance } from 'node:perf_hooks';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { V1Role, V1RoleBinding } from '@kubernetes/client-node';
import { ensureBinaries } from '../hack/controlplane/binaries.ts';
import { REPO_ROOT, installCrds, kubectlAs } from '../hack/controlplane/install.ts';
import { startControlPlane, stopControlPlane } from '../hack/controlplane/plane.ts';
import { FIELD_MANAGER, INDEX_NAME, INDEX_PLURAL, rbacName } from '../src/api/names.ts';
import { API_VERSION, GROUP, VERSION } from '../src/api/schema.ts';
import { applyPatch, fromKubeConfig, type KubeApi } from '../src/kube/client.ts';
import { planGrantRbac } from '../src/controller/rbac.ts';
import { adminApi, operatorIdentity, prepareNamespaces } from './cluster.ts';
import { loadAverage as load, ms, summarize, table } from './stats.ts';

const WRITES = Number(process.env.BENCH_RBAC_WRITES ?? 20);
const ENTRIES = Number(process.env.BENCH_RBAC_ENTRIES ?? 100);
const say = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};

type Method = 'apply new' | 'create (POST)' | 'apply unchanged' | 'update unchanged (PUT)';
const METHODS: Method[] = ['apply new', 'create (POST)', 'apply unchanged', 'update unchanged (PUT)'];
/** Grants written per identity and admission setting (one Role and one RoleBinding each). */
const BLOCK = METHODS.length * WRITES;

interface Cell {
  policies: string;
  identity: string;
  kind: 'Role' | 'RoleBinding';
  method: Method;
  names: string[];
  client: number[];
}

const uid = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

function grantRbac(namespace: string, grant: string, i: number): { role: V1Role; binding: V1RoleBinding } {
  const rbac = planGrantRbac({ namespace, name: grant, uid: uid(i) }, { access: ['exec'], subject: { kind: 'User', name: `u-${grant}` } }, ['target']);
  if (!rbac) throw new Error('no RBAC planned');
  return rbac;
}

/** The index entries the RoleBinding policy reads: `count` grants active for 4 h. */
function indexBody(namespace: string, grants: string[]): object {
  const now = new Date();
  const expires = new Date(now.getTime() + 4 * 3600_000).toISOString();
  return {
    apiVersion: API_VERSION,
    kind: 'DebugGrantIndex',
    metadata: { name: INDEX_NAME, namespace, labels: { 'app.kubernetes.io/managed-by': 'debuggrant' } },
    active: grants.map((grant, i) => ({
      grant,
      uid: uid(i),
      username: `u-${grant}`,
      group: '',
      pods: ['target'],
      image: 'registry.example.com/debug/netshoot@sha256:' + 'e'.repeat(64),
      profile: 'baseline',
      access: ['exec'],
      activatedAt: now.toISOString(),
      expiresAt: expires,
    })),
    ended: [],
  };
}

async function write(api: KubeApi, kind: 'Role' | 'RoleBinding', method: Method, obj: V1Role | V1RoleBinding): Promise<void> {
  const { name = '', namespace = '' } = obj.metadata ?? {};
  if (kind === 'Role') {
    const role = obj as V1Role;
    if (method === 'create (POST)') await api.rbac.createNamespacedRole({ namespace, body: role });
    else if (method === 'update unchanged (PUT)') {
      // No PUT for Roles in the client (the operator never replaces one): a merge patch of the same content.
      await api.rbac.patchNamespacedRole({ name, namespace, body: { metadata: { labels: role.metadata?.labels } } }, { patch: 'merge' });
    } else await api.rbac.patchNamespacedRole({ name, namespace, body: role, fieldManager: FIELD_MANAGER, force: true }, applyPatch());
  } else {
    const binding = obj as V1RoleBinding;
    if (method === 'create (POST)') await api.rbac.createNamespacedRoleBinding({ namespace, body: binding });
    else if (method === 'update unchanged (PUT)') {
      const current = await api.rbac.readNamespacedRoleBinding({ namespace, name });
      await api.rbac.replaceNamespacedRoleBinding({
        namespace,
        name,
        body: { ...binding, metadata: { ...binding.metadata, resourceVersion: current.metadata?.resourceVersion } },
      });
    } else await api.rbac.patchNamespacedRoleBinding({ name, namespace, body: binding, fieldManager: FIELD_MANAGER, force: true }, applyPatch());
  }
}

/** The API server's own time for each write of `names` by `verb` (audit log, ms). */
function serverTimes(auditLog: string, cells: Cell[]): Map<Cell, number[]> {
  const byKey = new Map<string, number>();
  for (const line of readFileSync(auditLog, 'utf8').split('\n')) {
    if (!line.includes('"ResponseComplete"') || !line.includes('rbac.authorization.k8s.io')) continue;
    const e = JSON.parse(line) as { verb: string; objectRef?: { name?: string; resource?: string }; requestReceivedTimestamp: string; stageTimestamp: string };
    const micros = (t: string): number => Date.parse(t) * 1000 + Number(/\.\d{3}(\d{3})/.exec(t)?.[1] ?? 0);
    byKey.set(`${e.verb} ${e.objectRef?.resource ?? ''} ${e.objectRef?.name ?? ''}`, (micros(e.stageTimestamp) - micros(e.requestReceivedTimestamp)) / 1000);
  }
  return new Map(
    cells.map((c) => {
      const verb = c.method === 'create (POST)' ? 'create' : c.method === 'update unchanged (PUT)' ? (c.kind === 'Role' ? 'patch' : 'update') : 'patch';
      const resource = c.kind === 'Role' ? 'roles' : 'rolebindings';
      return [c, c.names.map((n) => byKey.get(`${verb} ${resource} ${n}`)).filter((v): v is number => v !== undefined)];
    }),
  );
}

export async function benchRbacWrites(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'debuggrant-rbac-writes-'));
  // BENCH_RBAC_APISERVER_ARGS: extra kube-apiserver flags, to test a cause (e.g. --watch-cache=false).
  const extraApiserverArgs = (process.env.BENCH_RBAC_APISERVER_ARGS ?? '').split(' ').filter(Boolean);
  const state = await startControlPlane({ dir, binDir: ensureBinaries(), progress: say, extraApiserverArgs });
  try {
    installCrds(state);
    const admin = adminApi(state, 60_000);
    const identity = await operatorIdentity(state, admin, dir);
    kubectlAs(state, 'admin', ['apply', '--server-side', '-k', join(REPO_ROOT, 'config/flowcontrol')]);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(identity.kubeconfig);
    const operator = fromKubeConfig(kc, { timeouts: { requestMs: 60_000, revocationMs: 60_000 } });
    const identities: [string, KubeApi][] = [
      ['operator', operator],
      ['admin', admin],
    ];
    const [namespace = ''] = await prepareNamespaces(admin, 1);
    let next = 0;
    const grants = Array.from({ length: ENTRIES + 2 * 2 * BLOCK }, (_, i) => `g-${String(i)}`);
    const cells: Cell[] = [];
    for (const policies of ['without config/admission', 'with config/admission']) {
      if (policies.startsWith('with ')) {
        kubectlAs(state, 'admin', ['apply', '--server-side', '-k', join(REPO_ROOT, 'config/admission')]);
        // Policies and their bindings take effect once the API server's informers have them.
        await new Promise((r) => setTimeout(r, 3000));
      }
      for (const [who, api] of identities) {
        // The grants of this block, with the index entries first (an entry per grant written, plus ENTRIES-1 others).
        const block = grants.slice(next, next + BLOCK);
        const first = next;
        next += block.length;
        await admin.custom
          .deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: INDEX_PLURAL, namespace, name: INDEX_NAME })
          .catch(() => undefined);
        const entries = [...block, ...grants.slice(grants.length - Math.max(0, ENTRIES - block.length))];
        await admin.custom.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          plural: INDEX_PLURAL,
          namespace,
          body: indexBody(namespace, entries),
        });
        await new Promise((r) => setTimeout(r, 1000));
        say(`${policies}, as ${who}: ${String(entries.length)} index entries (load ${load()})`);
        let k = 0;
        for (const method of METHODS) {
          const role: Cell = { policies, identity: who, kind: 'Role', method, names: [], client: [] };
          const binding: Cell = { policies, identity: who, kind: 'RoleBinding', method, names: [], client: [] };
          for (let w = 0; w < WRITES; w++) {
            const index = first + k++;
            const rbac = grantRbac(namespace, grants[index] ?? '', entries.indexOf(grants[index] ?? ''));
            const name = rbacName(grants[index] ?? '');
            const unchanged = method === 'apply unchanged' || method === 'update unchanged (PUT)';
            if (unchanged) {
              await admin.rbac.createNamespacedRole({ namespace, body: rbac.role });
              await admin.rbac.createNamespacedRoleBinding({ namespace, body: rbac.binding });
            }
            let t = performance.now();
            await write(api, 'Role', method, rbac.role);
            role.client.push(performance.now() - t);
            t = performance.now();
            await write(api, 'RoleBinding', method, rbac.binding);
            binding.client.push(performance.now() - t);
            role.names.push(name);
            binding.names.push(name);
          }
          cells.push(role, binding);
        }
      }
    }
    // The audit log is written as requests complete: give it a moment.
    await new Promise((r) => setTimeout(r, 1000));
    const server = serverTimes(state.auditLog, cells);
    const rows = cells.map((c) => {
      const cl = summarize(c.client);
      const sv = summarize(server.get(c) ?? []);
      return [c.policies, c.identity, c.kind, c.method, String(cl.n), ms(cl.p50), ms(cl.p99), `${String(sv.n)}: ${ms(sv.p50)} / ${ms(sv.p99)}`];
    });
    process.stdout.write(
      `\n${table(['admission', 'identity', 'object', 'method', 'n', 'client p50', 'client p99', 'API server (audit) n: p50 / p99'], rows)}\n` +
        `sequential writes, ${String(ENTRIES)} index entries, kube-apiserver ${extraApiserverArgs.join(' ') || 'as the plane starts it'}; load ${load()}\n`,
    );
  } finally {
    await stopControlPlane(state);
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}
