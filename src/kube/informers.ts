// List+watch sources for what the operator observes: its grants and indexes, the pods
// (as metadata), and the Roles/RoleBindings and Jobs it owns (selected by label). Each keeps only
// the fields the operator reads (cached.ts), picked as objects arrive.
import type { DebugGrantHistory, DebugGrantIndex } from '../api/grant-index.ts';
import { HISTORY_PLURAL, INDEX_PLURAL, MANAGED_BY, MANAGED_BY_LABEL, TIMER_LABEL } from '../api/names.ts';
import { GROUP, PLURAL, VERSION } from '../api/schema.ts';
import type { DebugGrant } from '../api/types.ts';
import type { ListWatchSource } from '../runtime/informer.ts';
import {
  cachedGrant,
  cachedHistory,
  cachedIndex,
  cachedPodMetadata,
  cachedRole,
  cachedRoleBinding,
  cachedTimer,
  type CachedPod,
  type CachedRole,
  type CachedRoleBinding,
  type CachedTimer,
} from './cached.ts';
import type { KubeApi } from './client.ts';
import { describeFailure } from './failure.ts';
import { getObject, listPage, openWatch, serverOf, type Selection } from './list-watch.ts';

const managedSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

/** The server ends each watch after this long (plus jitter), as client-go's reflector asks. */
const WATCH_TIMEOUT_S = 300;
/** No event and no bookmark for this long: the connection is dead, not quiet. */
const WATCH_IDLE_MS = 150_000;

function scoped(prefix: string, resource: string, namespace: string | undefined): string {
  return namespace ? `${prefix}/namespaces/${namespace}/${resource}` : `${prefix}/${resource}`;
}

function source<T>(api: KubeApi, path: string, transform: (raw: unknown) => T, selection: Selection = {}): ListWatchSource<T> {
  const server = serverOf(api.connection);
  return {
    server,
    transform,
    list: (limit, continueToken) => listPage(api.connection, path, { limit, continueToken, ...selection }),
    watch: (resourceVersion, onEvent, opts) =>
      openWatch(
        api.connection,
        path,
        {
          resourceVersion,
          initialEvents: opts?.initialEvents,
          ...selection,
          timeoutSeconds: WATCH_TIMEOUT_S + Math.floor(Math.random() * WATCH_TIMEOUT_S),
          idleMs: WATCH_IDLE_MS,
        },
        onEvent,
      ),
    describe: (err) => describeFailure(err, server),
  };
}

export const grantSource = (api: KubeApi, ns?: string): ListWatchSource<DebugGrant> =>
  source(api, scoped(`/apis/${GROUP}/${VERSION}`, PLURAL, ns), cachedGrant);

export const indexSource = (api: KubeApi, ns?: string): ListWatchSource<DebugGrantIndex> =>
  source(api, scoped(`/apis/${GROUP}/${VERSION}`, INDEX_PLURAL, ns), cachedIndex);

/** The records of spent names, all in the operator's own namespace (`home`). */
export const historySource = (api: KubeApi, home: string): ListWatchSource<DebugGrantHistory> =>
  source(api, scoped(`/apis/${GROUP}/${VERSION}`, HISTORY_PLURAL, home), cachedHistory);

/**
 * Every pod that has not finished, as metadata only: what grants select (labels), what owns it,
 * and `metadata.generation`, which the API server raises on every change of a pod's spec, an
 * ephemeral container included. Pods whose spec changed are read whole (pod-details.ts).
 * A pod that finishes (Succeeded, Failed) leaves the selection: the watch reports it deleted.
 */
export const podSource = (api: KubeApi, ns?: string): ListWatchSource<CachedPod> =>
  source(api, scoped('/api/v1', 'pods', ns), cachedPodMetadata, { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed', metadataOnly: true });

/** One pod whole, as JSON (undefined when it is gone), for pod-details.ts. */
export const readPod = (api: KubeApi, namespace: string, name: string): Promise<unknown> =>
  getObject(api.connection, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`, 'pods');

export const roleSource = (api: KubeApi, ns?: string): ListWatchSource<CachedRole> =>
  source(api, scoped('/apis/rbac.authorization.k8s.io/v1', 'roles', ns), cachedRole, { labelSelector: managedSelector });

export const roleBindingSource = (api: KubeApi, ns?: string): ListWatchSource<CachedRoleBinding> =>
  source(api, scoped('/apis/rbac.authorization.k8s.io/v1', 'rolebindings', ns), cachedRoleBinding, { labelSelector: managedSelector });

/** The grants' timer Jobs (src/revocation/timer-job.ts), selected by label: never anyone else's Jobs. */
export const timerSource = (api: KubeApi, ns?: string): ListWatchSource<CachedTimer> =>
  source(api, scoped('/apis/batch/v1', 'jobs', ns), cachedTimer, { labelSelector: `${managedSelector},${TIMER_LABEL}=true` });
