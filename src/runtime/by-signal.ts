// A promise that settles no later than its abort signal fires, whatever the work behind it
// does. The HTTP client is asked to abort a request at its deadline, and normally does; under
// load on one HTTP/2 connection (32 workers, `npm run bench -- activation`, docs/benchmark.md)
// a request whose deadline fired never settled, and the reconcile waiting on it held its
// worker for good. The work's own late outcome is dropped (its rejection handled).
export function bySignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject: (reason: Error) => void) => {
    const aborted = (): void => {
      work.catch(() => undefined);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', aborted, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', aborted);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', aborted);
        // As it came: a socket's error may be of another realm (jest's VM), not `instanceof
        // Error`, and its code (a TLS failure's, a refused connection's) is what callers read.
        reject(err as Error);
      },
    );
  });
}
