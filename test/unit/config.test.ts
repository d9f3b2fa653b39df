import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseBindAddress, parseConfig, shortMs } from '../../src/config.ts';

describe('operator configuration', () => {
  test('defaults fill in around the one required field', () => {
    const c = parseConfig({ approvedRegistries: ['registry.example.com/debug/'] });
    expect(c).toMatchObject({
      maxTtl: '4h',
      allowedProfiles: ['baseline', 'restricted', 'netadmin'],
      namespaces: [],
      workers: 32,
      api: { requestTimeout: '10s', revocationTimeout: '500ms' },
    });
  });

  test.each([
    [{}, 'approvedRegistries'],
    [{ approvedRegistries: ['registry.example.com/debug'] }, 'must end with "/"'],
    [{ approvedRegistries: ['r.io/'], maxTtl: '48h' }, 'maxTtl may be at most 24h'],
    [{ approvedRegistries: ['r.io/'], maxTtl: 'two hours' }, 'maxTtl must be a duration'],
    [{ approvedRegistries: ['r.io/'], allowedProfiles: ['privileged'] }, 'allowedProfiles[0]'],
    [{ approvedRegistries: ['r.io/'], workers: 0 }, 'workers'],
    [{ approvedRegistries: ['r.io/'], typo: 1 }, 'typo'],
    [{ approvedRegistries: ['r.io/'], metricsPort: 8080 }, 'metricsPort'],
    [{ approvedRegistries: ['r.io/'], metrics: { bindAddress: '8443' } }, 'metrics.bindAddress must be host:port'],
    [{ approvedRegistries: ['r.io/'], healthProbeBindAddress: 'localhost:99999' }, 'healthProbeBindAddress must be host:port'],
    [{ approvedRegistries: ['r.io/'], metrics: { secure: false } }, 'metrics.secure: false serves metrics to anyone'],
    [{ approvedRegistries: ['r.io/'], metrics: { bindAddress: '0.0.0.0:8080', secure: false } }, 'allowed only on a loopback address'],
    [{ approvedRegistries: ['r.io/'], api: { requestTimeout: 'soon' } }, 'api.requestTimeout must be a timeout like 500ms or 10s'],
    [{ approvedRegistries: ['r.io/'], api: { revocationTimeout: '0s' } }, 'api.revocationTimeout must be a timeout'],
  ])('%j is refused naming %s', (raw, fragment) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(fragment);
  });

  test('metrics are HTTPS on :8443 and probes on :8081 unless told otherwise; plain HTTP only on loopback', () => {
    const c = parseConfig({ approvedRegistries: ['r.io/'] });
    expect(c.metrics).toEqual({ bindAddress: ':8443', secure: true });
    expect(parseBindAddress(c.metrics.bindAddress)).toEqual({ host: undefined, port: 8443 });
    expect(parseBindAddress(c.healthProbeBindAddress)).toEqual({ host: undefined, port: 8081 });
    expect(parseBindAddress('0')).toBeUndefined();
    expect(parseBindAddress('[::1]:9090')).toEqual({ host: '::1', port: 9090 });
    expect(parseConfig({ approvedRegistries: ['r.io/'], metrics: { bindAddress: '127.0.0.1:9090', secure: false } }).metrics.secure).toBe(false);
    expect(parseConfig({ approvedRegistries: ['r.io/'], metrics: { bindAddress: '0', secure: false } }).metrics.bindAddress).toBe('0');
  });

  test('timeouts take seconds and milliseconds', () => {
    expect([shortMs('10s'), shortMs('500ms'), shortMs('1s250ms'), shortMs('1m'), shortMs('')]).toEqual([10_000, 500, 1250, undefined, undefined]);
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

  test("the system namespaces are reserved by default, and the operator's own (POD_NAMESPACE) always", () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-config-'));
    writeFileSync(join(dir, 'ok.yaml'), 'approvedRegistries: ["r.io/debug/"]\n');
    expect(loadConfig({ DEBUGGRANT_CONFIG: join(dir, 'ok.yaml') }).reservedNamespaces).toEqual(['kube-system', 'kube-public', 'kube-node-lease']);
    expect(loadConfig({ DEBUGGRANT_CONFIG: join(dir, 'ok.yaml'), POD_NAMESPACE: 'ops' }).reservedNamespaces).toEqual([
      'kube-system',
      'kube-public',
      'kube-node-lease',
      'ops',
    ]);
    // Configured without the system namespaces: the operator's own is still added.
    writeFileSync(join(dir, 'own.yaml'), 'approvedRegistries: ["r.io/debug/"]\nreservedNamespaces: [ops]\n');
    expect(loadConfig({ DEBUGGRANT_CONFIG: join(dir, 'own.yaml'), POD_NAMESPACE: 'ops' }).reservedNamespaces).toEqual(['ops']);
    expect(loadConfig({ DEBUGGRANT_CONFIG: join(dir, 'own.yaml'), POD_NAMESPACE: 'debuggrant' }).reservedNamespaces).toEqual(['ops', 'debuggrant']);
  });
});
