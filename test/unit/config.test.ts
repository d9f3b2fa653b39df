import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/config.ts';

describe('operator configuration', () => {
  test('defaults fill in around the one required field', () => {
    const c = parseConfig({ approvedRegistries: ['registry.example.com/debug/'] });
    expect(c).toMatchObject({ maxTtl: '4h', allowedProfiles: ['baseline', 'restricted', 'netadmin'], namespaces: [], workers: 4 });
  });

  test.each([
    [{}, 'approvedRegistries'],
    [{ approvedRegistries: ['registry.example.com/debug'] }, 'must end with "/"'],
    [{ approvedRegistries: ['r.io/'], maxTtl: '48h' }, 'maxTtl may be at most 24h'],
    [{ approvedRegistries: ['r.io/'], maxTtl: 'two hours' }, 'maxTtl must be a duration'],
    [{ approvedRegistries: ['r.io/'], allowedProfiles: ['privileged'] }, 'allowedProfiles.0'],
    [{ approvedRegistries: ['r.io/'], workers: 0 }, 'workers'],
    [{ approvedRegistries: ['r.io/'], typo: 1 }, 'typo'],
  ])('%j is refused naming %s', (raw, fragment) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(fragment);
  });

  test('file problems say which file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-config-'));
    expect(() => loadConfig({})).toThrow('DEBUGGRANT_CONFIG is not set');
    expect(() => loadConfig({ DEBUGGRANT_CONFIG: join(dir, 'missing.yaml') })).toThrow('cannot read configuration file');
    writeFileSync(join(dir, 'bad.yaml'), 'approvedRegistries: [unclosed');
    expect(() => loadConfig({ DEBUGGRANT_CONFIG: join(dir, 'bad.yaml') })).toThrow('is not valid YAML');
    writeFileSync(join(dir, 'ok.yaml'), 'approvedRegistries: ["r.io/debug/"]\nmaxTtl: 1h\n');
    expect(loadConfig({ DEBUGGRANT_CONFIG: join(dir, 'ok.yaml') }).maxTtl).toBe('1h');
  });
});
