// What a release carries agrees with itself: one version (package.json) in the chart, the
// image tag and the running code; the licence is the full Apache-2.0 text; Renovate's
// custom manager still finds what it updates.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { VERSION } from '../../src/version.ts';

const read = (file: string): string => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json')) as { version: string; license: string };

describe('release', () => {
  test('one version: package.json, the code, the chart, the image tag, the changelog', () => {
    expect(VERSION).toBe(pkg.version);
    const chart = parse(read('charts/debuggrant/Chart.yaml')) as { version: string; appVersion: string };
    expect({ version: chart.version, appVersion: chart.appVersion }).toEqual({ version: pkg.version, appVersion: pkg.version });
    expect(read('config/manager/manager.yaml')).toContain(`image: registry.example.com/debuggrant/operator:${pkg.version}\n`);
    expect(read('config/manager/manager.yaml')).toContain(`app.kubernetes.io/version: "${pkg.version}"}`);
    expect(read('CHANGELOG.md')).toContain(`\n## [${pkg.version}]`);
  });

  test('the licence is the Apache License 2.0 in full, as package.json says', () => {
    expect(pkg.license).toBe('Apache-2.0');
    const license = read('LICENSE');
    expect(license).toContain('Apache License\n                           Version 2.0, January 2004');
    expect(license).toContain('END OF TERMS AND CONDITIONS');
    expect(license.split('\n').length).toBeGreaterThan(200);
  });

  test('Renovate covers npm, Go modules and base image digests, and its regex finds the Node version', () => {
    const renovate = JSON.parse(read('renovate.json')) as {
      enabledManagers: string[];
      dockerfile: { pinDigests: boolean };
      customManagers: { managerFilePatterns: string[]; matchStrings: string[] }[];
    };
    expect(renovate.enabledManagers).toEqual(expect.arrayContaining(['npm', 'gomod', 'dockerfile']));
    expect(renovate.dockerfile.pinDigests).toBe(true);
    for (const m of renovate.customManagers) {
      const file = (m.managerFilePatterns[0] ?? '').replace(/^\/\^|\$\/$/g, '').replace(/\\\./g, '.');
      const match = new RegExp(m.matchStrings[0] ?? '').exec(read(file));
      expect(match?.groups?.currentValue).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });
});
