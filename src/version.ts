// The one version of debuggrant: package.json's. The image tag, the chart's appVersion and
// `kubectl debuggrant version` all come from it (tests check they agree).
import { readFileSync } from 'node:fs';

/** debuggrant's own package.json, checked by hand: zod here would put zod in every CLI command's start. */
function versionOf(pkg: unknown): string {
  if (
    typeof pkg === 'object' &&
    pkg !== null &&
    'name' in pkg &&
    pkg.name === 'debuggrant' &&
    'version' in pkg &&
    typeof pkg.version === 'string' &&
    pkg.version !== ''
  )
    return pkg.version;
  throw new Error('not debuggrant\'s package.json (name "debuggrant" and a version)');
}

/** package.json of this checkout, image or package: the nearest one above this module. */
function readVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      return versionOf(JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')));
    } catch (err) {
      if (dir.pathname === '/') throw new Error("cannot find debuggrant's package.json to read its version", { cause: err });
    }
  }
}

/** Set by hack/bundle.ts: a bundle carries its version and needs no package.json. */
declare const DEBUGGRANT_VERSION: string | undefined;

export const VERSION = typeof DEBUGGRANT_VERSION === 'string' ? DEBUGGRANT_VERSION : readVersion();
