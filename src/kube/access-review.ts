// Asks the API server's authorizer what a grant's subject can do: SubjectAccessReview is
// the ground truth, whatever Roles we think we wrote.
import type { Subject } from '../api/schema.ts';
import type { KubeApi } from './client.ts';

export interface PodAccessQuery {
  namespace: string;
  pod: string;
  verb: string;
  subresource: string;
}

/** The identity the authorizer sees for a subject. A User's real groups are not knowable here. */
export function reviewIdentity(s: Subject): { user?: string; groups: string[] } {
  switch (s.kind) {
    case 'User':
      return { user: s.name, groups: ['system:authenticated'] };
    case 'Group':
      return { user: 'debuggrant:probe', groups: [s.name, 'system:authenticated'] };
    case 'ServiceAccount':
      return {
        user: `system:serviceaccount:${s.namespace ?? ''}:${s.name}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${s.namespace ?? ''}`, 'system:authenticated'],
      };
  }
}

export async function subjectCan(api: KubeApi, subject: Subject, q: PodAccessQuery): Promise<boolean> {
  const review = await api.authz.createSubjectAccessReview({
    body: {
      spec: {
        ...reviewIdentity(subject),
        resourceAttributes: { namespace: q.namespace, verb: q.verb, group: '', resource: 'pods', subresource: q.subresource || undefined, name: q.pod },
      },
    },
  });
  return review.status?.allowed === true;
}
