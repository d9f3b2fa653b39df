// Kubernetes' own rules for names, label keys and label values (apimachinery's
// IsDNS1123Subdomain, IsDNS1123Label, IsQualifiedName, IsValidLabelValue), so `validate`
// refuses what the API server refuses. The CRD states the selector rules in CEL with the
// same patterns (crds/debuggrant.dev_debuggrants.yaml; test/unit/schema.test.ts compares).
export const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
export const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
/** The name part of a qualified name, at most 63 characters. */
const QUALIFIED_NAME_PART = '([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]';
/** A label key: [DNS-subdomain prefix "/"] name part. The prefix's 253-character limit is checked apart. */
export const QUALIFIED_NAME_PATTERN = `^(${DNS1123_SUBDOMAIN}/)?${QUALIFIED_NAME_PART}$`;
export const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';

export const SUBDOMAIN_MESSAGE =
  "must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. inc-4211-checkout)";
export const LABEL_NAME_MESSAGE =
  "must be a lowercase RFC 1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";
export const LABEL_KEY_MESSAGE =
  "label keys must be qualified names: an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (e.g. app or app.kubernetes.io/name)";
export const LABEL_VALUE_MESSAGE = "label values must be empty or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";

const subdomainRe = new RegExp(`^${DNS1123_SUBDOMAIN}$`);
const labelNameRe = new RegExp(`^${DNS1123_LABEL}$`);
const qualifiedRe = new RegExp(QUALIFIED_NAME_PATTERN);
const valueRe = new RegExp(LABEL_VALUE_PATTERN);

export const isSubdomain = (s: string): boolean => s.length <= 253 && subdomainRe.test(s);
export const isDnsLabel = (s: string): boolean => s.length <= 63 && labelNameRe.test(s);
export const isLabelKey = (s: string): boolean => qualifiedRe.test(s) && (!s.includes('/') || s.indexOf('/') <= 253);
export const isLabelValue = (s: string): boolean => valueRe.test(s);
