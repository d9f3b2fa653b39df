// Writes of grants' timer Jobs (planned in src/revocation/timer-job.ts): created before the
// RoleBinding they own, shortened once the Job controller has started them, deleted when the
// grant ends. Each write names the timer's uid where it can, so it never touches another Job.
import type { V1Job } from '@kubernetes/client-node';
import { httpStatus, isNotFoundStatus } from '../runtime/errors.ts';
import { cachedTimer, type CachedTimer } from './cached.ts';
import { jsonPatch, type CallOptions, type KubeApi } from './client.ts';

/** Creates the timer; one already there under its name (ours or not) is returned as found (`created` false). */
export async function createTimer(api: KubeApi, job: V1Job, options?: CallOptions): Promise<{ timer: CachedTimer; created: boolean }> {
  const namespace = job.metadata?.namespace ?? '';
  try {
    return { timer: cachedTimer(await api.batch.createNamespacedJob({ namespace, body: job }, options)), created: true };
  } catch (err) {
    if (httpStatus(err) !== 409) throw err;
    return { timer: cachedTimer(await api.batch.readNamespacedJob({ namespace, name: job.metadata?.name ?? '' }, options)), created: false };
  }
}

/** Sets a shorter activeDeadlineSeconds, only on the Job with this uid (config/admission/timers.yaml refuses a longer one). */
export async function shortenTimer(api: KubeApi, timer: CachedTimer, seconds: number, options?: CallOptions): Promise<CachedTimer> {
  const { namespace = '', name = '', uid = '' } = timer.metadata;
  const body = [
    { op: 'test', path: '/metadata/uid', value: uid },
    { op: 'replace', path: '/spec/activeDeadlineSeconds', value: seconds },
  ];
  return cachedTimer(await api.batch.patchNamespacedJob({ namespace, name, body }, { ...options, ...jsonPatch }));
}

/** Deletes the timer with this uid (and, in the background, anything it still owns); false when it was already gone. */
export async function deleteTimer(api: KubeApi, timer: CachedTimer): Promise<boolean> {
  const { namespace = '', name = '', uid = '' } = timer.metadata;
  try {
    // In the body: with a body the API server reads no query options, and a Job's default is Orphan.
    await api.batch.deleteNamespacedJob({ namespace, name, body: { propagationPolicy: 'Background', preconditions: { uid } } });
    return true;
  } catch (err) {
    // 409: a Job of that name with another uid, not this timer.
    if (isNotFoundStatus(err, 'jobs') || httpStatus(err) === 409) return false;
    throw err;
  }
}
