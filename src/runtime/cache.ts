// Read-only access to what an informer observed. Reconcilers read caches, never list from the API server.
export interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}
