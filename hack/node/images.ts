// Container images for the local node, assembled from the machine's busybox-static: no
// registry is reachable from here, so nothing is pulled. Each image is an OCI archive
// with one layer (busybox and its applets); the archives are deterministic, so the
// digests are the same on every run with the same busybox.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BUSYBOX = '/bin/busybox';

/** The uid of the non-root images (as distroless images use). */
export const NON_ROOT_UID = 65532;

export interface LocalImage {
  /** The name it is imported under (a tag). */
  tag: string;
  /** `<repository>@sha256:<manifest digest>`: what pods and grants use. */
  ref: string;
  archive: string;
}

/**
 * pause: the pod sandbox image (sleeps until killed); debug: busybox as root; debugNonRoot:
 * the same as uid 65532, what the restricted profile (runAsNonRoot) can run; app: the
 * workload's image (a shell that sleeps), from another registry than the debug images.
 */
export type LocalImages = Record<'pause' | 'debug' | 'debugNonRoot' | 'app', LocalImage>;

interface ImageSpec {
  tag: string;
  user?: string;
  entrypoint?: string[];
  cmd: string[];
}

const SPECS: Record<keyof LocalImages, ImageSpec> = {
  pause: { tag: 'localhost/debuggrant/pause:1', entrypoint: ['/bin/sleep'], cmd: ['inf'] },
  debug: { tag: 'registry.example.com/debug/busybox:1', cmd: ['sh'] },
  debugNonRoot: { tag: 'registry.example.com/debug/busybox-nonroot:1', user: `${NON_ROOT_UID}:${NON_ROOT_UID}`, cmd: ['sh'] },
  app: { tag: 'registry.example.com/shop/app:1', cmd: ['sleep', 'inf'] },
};

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Builds the OCI archives of all local images into `dir`. */
export function buildImages(dir: string): LocalImages {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const layer = buildLayer(dir);
  const entries = Object.entries(SPECS).map(([key, spec]) => [key, writeImage(dir, key, spec, layer)] as const);
  rmSync(layer.file);
  return Object.fromEntries(entries) as LocalImages;
}

interface Layer {
  file: string;
  digest: string;
  size: number;
}

/** One uncompressed layer: /bin/busybox, a symlink per applet, passwd/group, /tmp. */
function buildLayer(dir: string): Layer {
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  chmodSync(join(root, 'tmp'), 0o1777);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  for (const applet of applets) symlinkSync('busybox', join(root, 'bin', applet));
  writeFileSync(join(root, 'etc/passwd'), `root:x:0:0:root:/root:/bin/sh\ndebug:x:${NON_ROOT_UID}:${NON_ROOT_UID}:debug:/tmp:/bin/sh\n`);
  writeFileSync(join(root, 'etc/group'), `root:x:0:\ndebug:x:${NON_ROOT_UID}:\n`);
  const file = join(dir, 'layer.tar');
  execFileSync('tar', [
    '--create',
    '--file',
    file,
    '--directory',
    root,
    '--sort=name',
    '--format=gnu',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mtime=@0',
    '.',
  ]);
  const tar = readFileSync(file);
  rmSync(root, { recursive: true, force: true });
  return { file, digest: `sha256:${sha256(tar)}`, size: tar.length };
}

function writeImage(dir: string, key: string, spec: ImageSpec, layer: Layer): LocalImage {
  const blobs = join(dir, key, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const blob = (data: Buffer | string): { digest: string; size: number } => {
    const hex = sha256(data);
    writeFileSync(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
  };
  copyFileSync(layer.file, join(blobs, layer.digest.slice('sha256:'.length)));
  const config = blob(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {
        Env: ['PATH=/bin'],
        Cmd: spec.cmd,
        WorkingDir: '/',
        ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
        ...(spec.user ? { User: spec.user } : {}),
      },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
    }),
  );
  writeFileSync(join(dir, key, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, key, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: { 'io.containerd.image.name': spec.tag },
        },
      ],
    }),
  );
  const archive = join(dir, `${key}.tar`);
  execFileSync('tar', [
    '--create',
    '--file',
    archive,
    '--directory',
    join(dir, key),
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '.',
  ]);
  rmSync(join(dir, key), { recursive: true, force: true });
  const repository = spec.tag.slice(0, spec.tag.lastIndexOf(':'));
  return { tag: spec.tag, ref: `${repository}@${manifest.digest}`, archive };
}
