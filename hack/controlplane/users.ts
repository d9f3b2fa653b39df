// The identities of the local control plane. Authentication is by static bearer token,
// so each user is a kubeconfig context and `kubectl --context alice` works from any shell.
export interface LocalUser {
  name: string;
  groups: string[];
}

export const LOCAL_USERS: readonly LocalUser[] = [
  // system:masters bypasses RBAC, like a cluster's break-glass admin certificate.
  { name: 'admin', groups: ['system:masters'] },
  { name: 'alice', groups: ['engineers'] },
  { name: 'bob', groups: ['engineers'] },
  // The GitOps controller's identity: the only creator of DebugGrants in production.
  { name: 'gitops', groups: ['debuggrant:gitops'] },
  // A reviewer allowed to create grants by hand (break-glass approvals).
  { name: 'carol', groups: ['debuggrant:approvers'] },
];

export type LocalUserName = 'admin' | 'alice' | 'bob' | 'gitops' | 'carol';
