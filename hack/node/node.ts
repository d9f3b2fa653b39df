// A real node beside a local control plane: containerd, the kubelet (node `localhost`),
// the CNI bridge, images assembled locally, kube-controller-manager and kube-scheduler.
// `startNode` returns once the node is Ready; `stopNode` stops everything by PID and removes
// the run's containers, mounts, network namespaces, bridge and cgroups.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectlAs } from '../controlplane/install.ts';
import type { PlaneState } from '../controlplane/plane.ts';
import { isAlive, loopbackPort, logTail, stopPid, type Started } from '../controlplane/processes.ts';
import { cgroupMounts, cgroupProcesses, createCgroupRoot, removeCgroupRoot } from './cgroups.ts';
import { deleteBridge, killLeftovers, netnsOfCgroup, removeContainers, unmountAll } from './cleanup.ts';
import { writeCniConfig, CNI_BIN_DIR } from './cni.ts';
import { importImages, startContainerd, waitForContainerd } from './containerd.ts';
import { startControllerManager, startScheduler } from './controllers.ts';
import { BUSYBOX, buildImages, type LocalImages } from './images.ts';
import { NODE_NAME, startKubelet } from './kubelet.ts';
import { nodeLayout, type NodeLayout } from './layout.ts';

export interface NodeState {
  layout: NodeLayout;
  nodeName: string;
  images: LocalImages;
  pids: { containerd?: number; kubelet?: number; controllerManager?: number; scheduler?: number };
}

export const nodeStateFile = (dir: string): string => join(dir, 'node.json');

const hack = (file: string): string => fileURLToPath(new URL(`../${file}`, import.meta.url));

/** Why this machine cannot run the node, or undefined when it can (packages may still be missing). */
export function nodeUnsupported(): string | undefined {
  if (process.platform !== 'linux') return `the local node needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'the local node needs root: containerd and the kubelet create mounts, cgroups and network namespaces';
  if (cgroupMounts().length === 0) return 'no cgroup hierarchy is mounted';
  return undefined;
}

/** Installs the Debian packages (containerd, runc, CNI plugins, busybox-static) when missing. */
export function installNodePackages(): void {
  execFileSync('bash', [hack('install-node-packages.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const missing = ['/usr/bin/containerd', `${CNI_BIN_DIR}/bridge`, `${CNI_BIN_DIR}/host-local`, `${CNI_BIN_DIR}/loopback`, BUSYBOX].filter(
    (f) => !existsSync(f),
  );
  if (missing.length) throw new Error(`missing after installing the node packages: ${missing.join(', ')}`);
}

/** Finds (and on first use builds, 10-25 min) kubelet, kube-controller-manager and kube-scheduler. */
export function ensureNodeBinaries(): string {
  const out = execFileSync('bash', [hack('build-node-binaries.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const dir = out.trim().split('\n').at(-1);
  if (!dir) throw new Error('hack/build-node-binaries.sh printed no directory');
  return dir;
}

export interface NodeOptions {
  plane: PlaneState;
  /** The run's node directory (removed and recreated). */
  dir: string;
  binDir: string;
  progress?: (msg: string) => void;
}

export async function startNode(opts: NodeOptions): Promise<NodeState> {
  const say = opts.progress ?? (() => undefined);
  rmSync(opts.dir, { recursive: true, force: true });
  mkdirSync(opts.dir, { recursive: true });
  const layout = nodeLayout(opts.dir);
  const state: NodeState = { layout, nodeName: NODE_NAME, images: buildImages(join(opts.dir, 'images')), pids: {} };
  const save = (): void => {
    writeFileSync(nodeStateFile(opts.dir), JSON.stringify(state, null, 2), { mode: 0o600 });
  };
  save();
  cleanUpWhenOwnerDies(opts.dir);
  const started: Started[] = [];
  try {
    createCgroupRoot(layout.cgroupRoot);
    writeCniConfig(layout);
    say(`starting containerd (${layout.containerdSocket})`);
    const containerd = startContainerd(layout, state.images);
    started.push(containerd);
    state.pids.containerd = containerd.child.pid;
    save();
    await waitForContainerd(layout, containerd);
    say('importing the locally assembled images');
    await importImages(layout, state.images);

    say('starting kube-controller-manager and kube-scheduler');
    const kcm = startControllerManager(opts.plane, opts.binDir, opts.dir);
    const scheduler = startScheduler(opts.plane, opts.binDir, opts.dir);
    started.push(kcm, scheduler);
    state.pids.controllerManager = kcm.child.pid;
    state.pids.scheduler = scheduler.child.pid;
    save();

    const ports = { port: await loopbackPort(), healthzPort: await loopbackPort() };
    say(`starting the kubelet (node ${NODE_NAME}, 127.0.0.1:${ports.port})`);
    const kubelet = startKubelet(layout, join(opts.binDir, 'kubelet'), opts.plane.kubeconfig, ports);
    started.push(kubelet);
    state.pids.kubelet = kubelet.child.pid;
    save();
    await waitForNodeReady(opts.plane, started);
    say('node Ready');
    return state;
  } catch (err) {
    await stopNode(state).catch((stopErr: unknown) => {
      say(`cleaning up the failed node: ${String(stopErr)}`);
    });
    throw err;
  }
}

async function waitForNodeReady(plane: PlaneState, started: Started[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const dead = started.find((p) => p.child.exitCode !== null);
    if (dead) throw new Error(`${dead.name} exited with code ${String(dead.child.exitCode)}; last lines of ${dead.logFile}:\n${logTail(dead.logFile)}`);
    let ready = '';
    try {
      ready = kubectlAs(plane, 'admin', ['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
    } catch {
      /* not registered yet */
    }
    if (ready === 'True') return;
    await new Promise((r) => setTimeout(r, 500));
  }
  const kubelet = started.find((p) => p.name === 'kubelet');
  throw new Error(`node ${NODE_NAME} was not Ready after 120 s${kubelet ? `; last lines of ${kubelet.logFile}:\n${logTail(kubelet.logFile)}` : ''}`);
}

/**
 * Stops the node: controllers first (nothing recreates pods), then the kubelet, then every
 * container through containerd, then containerd; then removes what they left on the machine.
 * Idempotent: a second call (the owner-death watchdog) finds nothing to do.
 */
export async function stopNode(state: NodeState): Promise<void> {
  const { layout, pids } = state;
  for (const pid of [pids.controllerManager, pids.scheduler, pids.kubelet]) if (pid) await stopPid(pid);
  const netns = new Set(netnsOfCgroup(layout));
  if (pids.containerd && isAlive(pids.containerd)) {
    for (const path of await removeContainers(layout).catch(() => [])) netns.add(path);
    await stopPid(pids.containerd);
  }
  killLeftovers(layout);
  await waitFor(() => cgroupProcesses(layout.cgroupRoot).length === 0, 10_000);
  await unmountAll(layout, [...netns]);
  await deleteBridge(layout);
  const left = removeCgroupRoot(layout.cgroupRoot);
  if (left.length) throw new Error(`cgroups left behind (still in use): ${left.join(', ')}`);
  rmSync(nodeStateFile(layout.dir), { force: true });
}

export function readNodeState(dir: string): NodeState | undefined {
  const file = nodeStateFile(dir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as NodeState) : undefined;
}

/**
 * A detached watchdog that runs the node's full cleanup once this process is gone, however
 * it went: killed processes would otherwise leave containers, mounts and a bridge behind.
 */
function cleanUpWhenOwnerDies(dir: string): void {
  const stop = fileURLToPath(new URL('./stop.ts', import.meta.url));
  const script = `while kill -0 ${String(process.pid)} 2>/dev/null; do sleep 1; done; exec "$0" "$1" "$2"`;
  spawn('sh', ['-c', script, process.execPath, stop, dir], { stdio: 'ignore', detached: true }).unref();
}

async function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

export type NodeOutcome = { node: NodeState; reason?: undefined } | { node?: undefined; reason: string };

/**
 * The node when this machine can run it, else the reason it cannot, for the caller to print
 * before carrying on with the API server alone. Packages and binaries are installed and built
 * on first use. `require` turns every reason into an error (CI, where the node is expected).
 */
export async function startNodeIfPossible(opts: Omit<NodeOptions, 'binDir'> & { require?: boolean }): Promise<NodeOutcome> {
  let reason = nodeUnsupported();
  if (!reason) {
    try {
      installNodePackages();
      return { node: await startNode({ ...opts, binDir: ensureNodeBinaries() }) };
    } catch (err) {
      reason = `the node failed to start: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  if (opts.require) throw new Error(`a real node is required here, but ${reason}`);
  return { reason };
}
