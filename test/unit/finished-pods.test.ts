import { LINGERING_ANNOTATION, SESSIONS_ANNOTATION } from '../../src/api/names.ts';
import { carriesOpenRecords, FinishedPodSweep } from '../../src/controller/finished-pods.ts';
import type { CachedPod } from '../../src/kube/cached.ts';

const pod = (namespace: string, name: string, annotations?: Record<string, string>): CachedPod => ({ metadata: { namespace, name, annotations } });

describe('finished pods that still carry records (src/controller/finished-pods.ts)', () => {
  test('a lingering flag, or a session told started and not ended, is a record to settle; grants and ended sessions are not', () => {
    expect(carriesOpenRecords(pod('a', 'p', { [LINGERING_ANNOTATION]: 'dbg=img' }))).toBe(true);
    expect(carriesOpenRecords(pod('a', 'p', { [SESSIONS_ANNOTATION]: 'dbg=grant:g,peek=started' }))).toBe(true);
    expect(carriesOpenRecords(pod('a', 'p', { [SESSIONS_ANNOTATION]: 'dbg=grant:g,peek=ended' }))).toBe(false);
    expect(carriesOpenRecords(pod('a', 'p', { 'debuggrant.dev/other': 'x' }))).toBe(false);
    expect(carriesOpenRecords(pod('a', 'p'))).toBe(false);
  });

  test('each watched namespace is swept page by page; only pods with records are enqueued; a sweep under way is joined', async () => {
    const asked: (string | undefined)[] = [];
    const enqueued: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const sweep = new FinishedPodSweep({
      namespaces: ['a', 'b'],
      enqueue: (key) => enqueued.push(key),
      pages: async (ns, each) => {
        asked.push(ns);
        await gate;
        each([pod(ns ?? '', 'flagged', { [LINGERING_ANNOTATION]: 'x=y' }), pod(ns ?? '', 'clean')]);
        each([pod(ns ?? '', 'open', { [SESSIONS_ANNOTATION]: 'peek=started' })]);
      },
    });
    const first = sweep.sweep();
    const joined = sweep.sweep();
    expect(joined).toBe(first);
    release();
    expect(await first).toBe(4);
    expect(asked).toEqual(['a', 'b']);
    expect(enqueued).toEqual(['a/flagged', 'a/open', 'b/flagged', 'b/open']);
    // Done: the next sweep is a new pass; all namespaces (none configured) are one scope.
    const all = new FinishedPodSweep({ namespaces: [], enqueue: () => undefined, pages: (ns) => Promise.resolve(void asked.push(ns)) });
    await all.sweep();
    expect(asked).toEqual(['a', 'b', undefined]);
    expect(sweep.sweep()).not.toBe(first);
  });
});
