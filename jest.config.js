// Imports keep their .ts extension under jest: global setup is loaded by Node itself,
// which strips types natively. Three projects: unit (pure logic, no cluster), integration (one real etcd +
// kube-apiserver per run, started by the global setup) and node (the same plus a real node).
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.jest.json', diagnostics: false }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform,
  testEnvironment: 'node',
};

export default {
  // Integration tests wait on real expiries (seconds); unit tests finish far below this.
  testTimeout: 60_000,
  maxWorkers: 2,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      slowTestThreshold: 20,
    },
    {
      // A control plane plus a real node (kubelet, containerd, controller-manager, scheduler):
      // run on its own (`npm run test:node`), never in one jest invocation with `integration`.
      ...common,
      displayName: 'node',
      testMatch: ['<rootDir>/test/node/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/node-global-setup.ts',
      globalTeardown: '<rootDir>/test/support/node-global-teardown.ts',
      slowTestThreshold: 30,
    },
  ],
};
