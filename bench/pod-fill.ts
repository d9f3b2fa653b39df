// Realistic pods for the cluster bench, fast: one pod is made through the API server as a
// ReplicaSet's pod is (created by kube-controller-manager, its status written by the kubelet
// through pods/status), so its defaults and managedFields are the API server's own; every
// other pod is that object with its own name, uid, labels, owner and IP, written straight
// into etcd in batches. The API server's watch cache reads etcd's watch, so lists and
// watches serve these pods as any others (JSON in etcd decodes like protobuf). Through the
// API, a create plus a status patch ran at 21-39 pods/s on the shared machine (22 min for
// 50,000); this writes thousands a second.
import { randomUUID, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import type { PlaneState } from '../hack/controlplane/plane.ts';
import { realisticPodSpec, runningStatus } from '../test/support/pods.ts';

/** Pod i lives in namespace i mod N; its app label makes 5 groups per namespace for the grants to select. */
export function podPlace(i: number, namespaces: readonly string[], apps = 5): { namespace: string; name: string; app: string } {
  const namespace = namespaces[i % namespaces.length] ?? '';
  const k = Math.floor(i / namespaces.length);
  return { namespace, name: `pod-${String(k).padStart(4, '0')}`, app: `svc-${String(k % apps)}` };
}

const agents = new Map<string, Agent>();

/** One request as the admin, JSON in and out, on kept-alive connections. */
export function adminCall(state: PlaneState, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<unknown> {
  let agent = agents.get(state.server);
  if (!agent) {
    agent = new Agent({ keepAlive: true, maxSockets: 32, ca: readFileSync(state.caFile) });
    agents.set(state.server, agent);
  }
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  // Node frames a body by Content-Length or chunks only for methods it expects one with: a
  // DELETE's body goes out unframed, so the API server reads it as no body (the pod's grace
  // period ignored) and its bytes as the start of the next request on that kept-alive
  // connection, which gets a plain-text 400. Always say how long the body is.
  const length: Record<string, string> = payload ? { 'content-length': String(payload.length) } : {};
  return new Promise((resolve, reject) => {
    const req = request(
      `${state.server}${path}`,
      {
        method,
        agent,
        headers: { authorization: `Bearer ${state.tokens.admin ?? ''}`, 'content-type': contentType, accept: 'application/json', ...length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${path}: HTTP ${String(res.statusCode)} ${text.slice(0, 300)}`));
          else resolve(text ? (JSON.parse(text) as unknown) : undefined);
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A ReplicaSet-like owner per namespace and app: its name, uid and pod-template-hash. */
function owner(namespace: string, app: string): { hash: string; name: string; uid: string } {
  const h = createHash('sha256').update(`${namespace}/${app}`).digest('hex');
  const hash = h.slice(0, 10);
  const uid = `${h.slice(10, 18)}-${h.slice(18, 22)}-4${h.slice(23, 26)}-8${h.slice(27, 30)}-${h.slice(30, 42)}`;
  return { hash, name: `${app}-${hash}`, uid };
}

type Json = Record<string, unknown>;

/** Made through the API server (then deleted): the object every filled pod is a copy of. */
async function templatePod(state: PlaneState, namespace: string, image: string): Promise<Json> {
  const name = `fill-template-${randomUUID().slice(0, 8)}`;
  const o = owner(namespace, 'svc-0');
  const spec = realisticPodSpec(name, { app: 'svc-0' }, image) as Json;
  const meta = spec.metadata as Json;
  (meta.labels as Json)['pod-template-hash'] = o.hash;
  meta.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: o.name, uid: o.uid, controller: true, blockOwnerDeletion: true }];
  const base = `/api/v1/namespaces/${namespace}/pods`;
  await adminCall(state, 'POST', `${base}?fieldManager=kube-controller-manager`, spec);
  await adminCall(state, 'PATCH', `${base}/${name}/status?fieldManager=kubelet`, { status: runningStatus(1, image) }, 'application/strategic-merge-patch+json');
  const pod = (await adminCall(state, 'GET', `${base}/${name}`)) as Json;
  await adminCall(state, 'DELETE', `${base}/${name}`, { gracePeriodSeconds: 0 });
  return pod;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** The etcd the API server stores in, from its own flags. */
export function etcdOf(state: PlaneState): string {
  const flag = state.apiserver.args.find((a) => a.startsWith('--etcd-servers='));
  if (!flag) throw new Error('the API server has no --etcd-servers flag');
  return flag.slice('--etcd-servers='.length).split(',')[0] ?? '';
}

async function etcdPut(etcd: string, kvs: { key: string; value: string }[]): Promise<void> {
  const res = await fetch(`${etcd}/v3/kv/txn`, {
    method: 'POST',
    body: JSON.stringify({ success: kvs.map((kv) => ({ requestPut: { key: b64(kv.key), value: b64(kv.value) } })) }),
  });
  if (!res.ok) throw new Error(`etcd txn: HTTP ${String(res.status)} ${(await res.text()).slice(0, 300)}`);
}

/** Pods `from` … `to - 1` (podPlace), written into etcd; resolves once the API server serves the last of them. */
export async function fillPods(
  state: PlaneState,
  namespaces: readonly string[],
  from: number,
  to: number,
  image: string,
  progress: (m: string) => void = () => undefined,
): Promise<void> {
  const etcd = etcdOf(state);
  const template = await templatePod(state, namespaces[0] ?? 'default', image);
  const meta = template.metadata as Json;
  delete meta.resourceVersion;
  const labels = meta.labels as Json;
  const ownerRef = (meta.ownerReferences as Json[])[0] ?? {};
  const status = template.status as Json;
  const started = Date.now();
  const BATCH = 40;
  const PARALLEL = 4;
  let next = from;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const kvs: { key: string; value: string }[] = [];
      for (const end = Math.min(next + BATCH, to); next < end; next++) {
        const p = podPlace(next, namespaces);
        const o = owner(p.namespace, p.app);
        meta.name = p.name;
        meta.namespace = p.namespace;
        meta.uid = randomUUID();
        labels.app = p.app;
        labels['pod-template-hash'] = o.hash;
        ownerRef.name = o.name;
        ownerRef.uid = o.uid;
        const ip = `10.${String((next >> 16) & 255)}.${String((next >> 8) & 255)}.${String(next & 255)}`;
        status.podIP = ip;
        if (status.podIPs) status.podIPs = [{ ip }];
        kvs.push({ key: `/registry/pods/${p.namespace}/${p.name}`, value: JSON.stringify(template) });
      }
      await etcdPut(etcd, kvs);
      const before = done;
      done += kvs.length;
      if (Math.floor(done / 10_000) > Math.floor(before / 10_000))
        progress(`  ${String(from + done)} pods (${String(Math.round(done / ((Date.now() - started) / 1000)))}/s into etcd)`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  // The watch cache has them once the last one is served from it.
  const last = podPlace(to - 1, namespaces);
  for (;;) {
    const list = (await adminCall(state, 'GET', `/api/v1/namespaces/${last.namespace}/pods?resourceVersion=0&fieldSelector=metadata.name%3D${last.name}`)) as {
      items?: unknown[];
    };
    if ((list.items?.length ?? 0) > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  progress(`  ${String(to)} pods in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
