// Writes package.json's version everywhere else a release names it: the chart's version
// and appVersion, and the image tag of config/manager. Run by `npm version` (the "version"
// lifecycle script), so one command bumps them together; test/unit/release.test.ts checks.
import { readFileSync, writeFileSync } from 'node:fs';
import { VERSION } from '../src/version.ts';

const root = new URL('../', import.meta.url);

function rewrite(file: string, edits: [RegExp, string][]): void {
  const path = new URL(file, root);
  let text = readFileSync(path, 'utf8');
  for (const [pattern, replacement] of edits) {
    if (!pattern.test(text)) throw new Error(`${file}: no match for ${String(pattern)}`);
    text = text.replace(pattern, replacement);
  }
  writeFileSync(path, text);
  process.stderr.write(`[version] ${file}: ${VERSION}\n`);
}

rewrite('charts/debuggrant/Chart.yaml', [
  [/^version: .*$/m, `version: ${VERSION}`],
  [/^appVersion: .*$/m, `appVersion: "${VERSION}"`],
]);
rewrite('config/manager/manager.yaml', [
  [/(image: registry\.example\.com\/debuggrant\/operator:).*$/m, `$1${VERSION}`],
  [/(app\.kubernetes\.io\/version: )"[^"]*"/, `$1"${VERSION}"`],
]);
