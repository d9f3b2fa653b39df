// The one version of debuggrant: package.json's. The image tag, the chart's appVersion and
// `kubectl debuggrant version` all come from it (tests check they agree).
import { readFileSync } from 'node:fs';
import * as z from 'zod';

const PackageJson = z.object({ name: z.literal('debuggrant'), version: z.string().min(1) });

/** package.json of this checkout, image or package: the nearest one above this module. */
function readVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      return PackageJson.parse(JSON.parse(readFileSync(new URL('package.json', dir), 'utf8'))).version;
    } catch (err) {
      if (dir.pathname === '/') throw new Error('cannot find debuggrant\'s package.json to read its version', { cause: err });
    }
  }
}

/** Set by hack/bundle.ts: a bundle carries its version and needs no package.json. */
declare const DEBUGGRANT_VERSION: string | undefined;

export const VERSION = typeof DEBUGGRANT_VERSION === 'string' ? DEBUGGRANT_VERSION : readVersion();
