// The profiles of `kubectl debug --profile`, the one list: the schema, the configuration and
// the CLI's flag table read it (this file imports nothing, so the CLI's start stays light).
export const PROFILES = ['general', 'baseline', 'restricted', 'netadmin', 'sysadmin'] as const;
export type Profile = (typeof PROFILES)[number];
