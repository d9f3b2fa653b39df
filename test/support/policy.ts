// The one policy configuration of an integration run: the admission policies installed by
// the global setup and the test operators' defaults agree on it.
import { PROFILES } from '../../src/api/schema.ts';
import type { AdmissionSettings } from '../../src/admission/render.ts';

export const APPROVED_REGISTRY = 'registry.example.com/debug/';
export const DEBUG_IMAGE = `${APPROVED_REGISTRY}netshoot@sha256:${'c'.repeat(64)}`;
/** Images configured as having no sh/date/timeout, and as having no default command. */
export const SHELLLESS_IMAGE_PREFIX = `${APPROVED_REGISTRY}distroless/`;
export const NO_DEFAULT_IMAGE_PREFIX = `${APPROVED_REGISTRY}entrypoint-only/`;
/** Namespaces with this label are outside the ephemeral-container policy (tests of other layers); never outside grant creation. */
export const EXEMPT = { 'debuggrant.dev/admission': 'exempt' };

/** Where chart.test.ts installs the chart for real: its operator is one of this run's operators. */
export const CHART_NAMESPACE = 'chart-installed';

export const TEST_POLICY: AdmissionSettings = {
  // The second: the grant catalogue's image with a registry port (test/fixtures/grant-catalogue.ts).
  approvedRegistries: [APPROVED_REGISTRY, 'reg.io:5000/dbg/'],
  maxTtl: '4h',
  allowedProfiles: [...PROFILES],
  // The admin certificate of a cluster is its break-glass identity.
  breakGlassGroups: ['debuggrant:break-glass', 'system:masters'],
  grantCreators: { users: [], groups: ['debuggrant:gitops', 'debuggrant:approvers'] },
  // Every approved image has sh, date and timeout and runs sh when given no command, except
  // these two (admission tests of the refusals).
  sessionImages: [
    { image: '', wrapper: 'timeout', command: ['sh'] },
    { image: SHELLLESS_IMAGE_PREFIX, wrapper: 'none', command: [] },
    { image: NO_DEFAULT_IMAGE_PREFIX, wrapper: 'timeout', command: [] },
  ],
  execWrapper: 'timeout',
  // As shipped: debuggrant-system is where config/default and deploy.test.ts install the operator.
  reservedNamespaces: ['kube-system', 'kube-public', 'kube-node-lease', 'debuggrant-system'],
  // Test operators run as admin (startTestOperator); the shipped ServiceAccount too (deploy
  // tests), and the chart's, released as dg-chart into CHART_NAMESPACE (chart tests).
  operatorUsers: ['admin', 'system:serviceaccount:debuggrant-system:debuggrant-operator', `system:serviceaccount:${CHART_NAMESPACE}:dg-chart-operator`],
};
