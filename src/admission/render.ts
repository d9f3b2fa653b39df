// The admission policies live as YAML in config/admission/. Their configurable lists
// (break-glass groups, creators, max ttl, registries, profiles, session images, the exec wrapper,
// reserved namespaces) are CEL variables; this
// fills them from the operator configuration so the API server enforces what the
// operator enforces. A kustomize patch of the same variables does this for a cluster.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import type { OperatorConfig } from '../config.ts';

const ADMISSION_DIR = fileURLToPath(new URL('../../config/admission/', import.meta.url));

export type AdmissionSettings = Pick<
  OperatorConfig,
  'breakGlassGroups' | 'grantCreators' | 'maxTtl' | 'approvedRegistries' | 'allowedProfiles' | 'sessionImages' | 'execWrapper' | 'reservedNamespaces'
> & {
  /**
   * Who the operator runs as (config/admission/timers.yaml): a fact of the installation, not
   * of the operator's configuration. Unset: the shipped ServiceAccount's username.
   */
  operatorUsers?: readonly string[];
};

const POLICY_KINDS = ['ValidatingAdmissionPolicy', 'MutatingAdmissionPolicy'];

interface PolicyDoc {
  kind?: string;
  spec?: { variables?: { name: string; expression: string }[] };
}

const celString = (s: string): string => JSON.stringify(s);
const celList = (xs: readonly string[]): string => `[${xs.map(celString).join(', ')}]`;

/** The CEL expression each configurable variable gets. */
export function admissionVariables(s: AdmissionSettings): Record<string, string> {
  return {
    breakGlassGroups: celList(s.breakGlassGroups),
    creatorUsers: celList(s.grantCreators.users),
    creatorGroups: celList(s.grantCreators.groups),
    maxTtl: celString(s.maxTtl),
    approvedRegistries: celList(s.approvedRegistries),
    allowedProfiles: celList(s.allowedProfiles),
    sessionCommands: `{${s.sessionImages
      .filter((e) => e.wrapper === 'timeout')
      .map((e) => `${celString(e.image)}: ${celList(e.command)}`)
      .join(', ')}}`,
    unboundedImages: celList(s.sessionImages.filter((e) => e.wrapper === 'none').map((e) => e.image)),
    execWrapper: celString(s.execWrapper),
    reservedNamespaces: celList(s.reservedNamespaces),
    ...(s.operatorUsers ? { operatorUsers: celList(s.operatorUsers) } : {}),
  };
}

/** The policy documents the kustomization lists, as shipped. */
function policyDocs(dir: string): PolicyDoc[] {
  const kustomization = parse(readFileSync(`${dir}/kustomization.yaml`, 'utf8')) as { resources?: string[] };
  return (kustomization.resources ?? []).flatMap((file) => parseAllDocuments(readFileSync(`${dir}/${file}`, 'utf8')).map((d) => d.toJS() as PolicyDoc));
}

/** Every policy document of config/admission, with the configurable variables filled in. */
export function renderAdmissionPolicies(s: AdmissionSettings, dir = ADMISSION_DIR): PolicyDoc[] {
  const values = admissionVariables(s);
  return policyDocs(dir).map((doc) => {
    for (const v of doc.spec?.variables ?? []) {
      const value = values[v.name];
      if (value !== undefined) v.expression = value;
    }
    return doc;
  });
}

/**
 * Kustomize patches that set the configurable variables of the shipped policies: what a
 * cluster's overlay applies so the API server enforces its operator configuration.
 */
export function kustomizePatches(s: AdmissionSettings): { target: { kind: string; name: string }; patch: string }[] {
  return renderAdmissionPolicies(s)
    .filter((d) => POLICY_KINDS.includes(d.kind ?? ''))
    .map((d) => {
      const name = (d as { metadata?: { name?: string } }).metadata?.name ?? '';
      const kind = d.kind ?? '';
      return {
        target: { kind, name },
        patch: JSON.stringify({ apiVersion: 'admissionregistration.k8s.io/v1', kind, metadata: { name }, spec: { variables: d.spec?.variables } }),
      };
    });
}

/** The variables as the shipped YAML has them (what a cluster gets without a patch). */
export function shippedVariables(dir = ADMISSION_DIR): Record<string, string> {
  const found: Record<string, string> = {};
  for (const doc of policyDocs(dir)) for (const v of doc.spec?.variables ?? []) found[v.name] = v.expression;
  return found;
}
