// Writes dist/THIRD_PARTY_LICENSES.txt: the licence texts of every production dependency
// (package-lock.json entries not marked dev), from which the bundles are built. The image ships it
// beside operator.mjs, as the Apache-2.0 and MIT licences of those packages require.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const Lock = z.object({
  packages: z.record(z.string(), z.object({ version: z.string().optional(), license: z.string().optional(), dev: z.boolean().optional() })),
});
const LICENSE_FILE = /^(licen[cs]e|copying|notice)(\.|-|$)/i;

const lock = Lock.parse(JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')));
const sections: string[] = [];
const missing: string[] = [];
for (const [path, entry] of Object.entries(lock.packages).sort(([a], [b]) => a.localeCompare(b))) {
  if (path === '' || entry.dev === true) continue;
  const dir = join(ROOT, path);
  const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => LICENSE_FILE.test(f))
        .sort()
    : [];
  if (files.length === 0) missing.push(name);
  const texts = files.map((f) => readFileSync(join(dir, f), 'utf8').trim());
  sections.push(
    `${name}@${entry.version ?? '?'} (${entry.license ?? 'see package'})\n\n${texts.join('\n\n') || `(no licence file in the package; its package.json says ${entry.license ?? 'nothing'})`}`,
  );
}
mkdirSync(join(ROOT, 'dist'), { recursive: true });
writeFileSync(
  join(ROOT, 'dist/THIRD_PARTY_LICENSES.txt'),
  `Third-party software in debuggrant's bundles, with its licences.\n\n${sections.join(`\n\n${'-'.repeat(78)}\n\n`)}\n`,
);
process.stderr.write(
  `[licenses] dist/THIRD_PARTY_LICENSES.txt: ${String(sections.length)} packages${missing.length > 0 ? `; no licence file in ${missing.join(', ')}` : ''}\n`,
);
