// Who is asking, and may they? The same two questions controller-runtime's secure metrics
// filter asks the API server: TokenReview authenticates the bearer token, then a
// SubjectAccessReview on the non-resource URL (e.g. `get /metrics`) authorizes the user.
import type { KubeApi } from './client.ts';

export type RequestVerdict = { allowed: true; user: string } | { allowed: false; status: 401 | 403; reason: string };

export interface NonResourceRequest {
  /** The bearer token, without the "Bearer " prefix. */
  token: string;
  /** The non-resource URL asked for, e.g. /metrics. */
  path: string;
  /** The authorization verb: get for GET/HEAD, as the API server maps it. */
  verb: string;
}

export type RequestReviewer = (request: NonResourceRequest) => Promise<RequestVerdict>;

export function requestReviewer(api: KubeApi): RequestReviewer {
  return async ({ token, path, verb }) => {
    const review = await api.authn.createTokenReview({ body: { spec: { token } } });
    const user = review.status?.user;
    if (review.status?.authenticated !== true || !user?.username) {
      return { allowed: false, status: 401, reason: review.status?.error ?? 'token not authenticated' };
    }
    const extra: Record<string, string[]> = { ...user.extra };
    const access = await api.authz.createSubjectAccessReview({
      body: { spec: { user: user.username, uid: user.uid, groups: user.groups, extra, nonResourceAttributes: { path, verb } } },
    });
    if (access.status?.allowed !== true) {
      return { allowed: false, status: 403, reason: `${user.username} may not ${verb} ${path}${access.status?.reason ? `: ${access.status.reason}` : ''}` };
    }
    return { allowed: true, user: user.username };
  };
}
