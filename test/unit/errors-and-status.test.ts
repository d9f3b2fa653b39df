import { ApiError } from '../../src/kube/api-error.ts';
import { describeError, isNotFoundStatus, isPermanent, isTemporary, isUnservedPath } from '../../src/runtime/errors.ts';
import { describeClusterFailure } from '../../src/cli/failures.ts';
import { desiredStatus, failingStatus } from '../../src/controller/status.ts';
import type { GrantDecision } from '../../src/controller/plan.ts';

const apiError = (code: number) => new ApiError(code, `HTTP ${String(code)}`, { kind: 'Status', message: `server says ${String(code)}`, code }, {});

describe('error classification', () => {
  test.each([409, 429, 500, 503, 401])('HTTP %i is temporary (capped backoff)', (code) => {
    expect(isTemporary(apiError(code))).toBe(true);
    expect(isPermanent(apiError(code))).toBe(false);
  });

  test.each([400, 403, 404, 422])('HTTP %i is permanent (condition, Event, slow retry)', (code) => {
    expect(isPermanent(apiError(code))).toBe(true);
  });

  test('a network error is temporary; a wrapped API error is classified by its cause', () => {
    expect(isTemporary(new TypeError('fetch failed'))).toBe(true);
    const wrapped = new Error('updating shop/grants index failed', { cause: apiError(403) });
    expect(isPermanent(wrapped)).toBe(true);
    expect(describeError(wrapped)).toBe('updating shop/grants index failed: server says 403');
  });
});

describe('what a 404 means (one classifier for every place that reads one)', () => {
  const notFound = (details: Record<string, string> | undefined) =>
    new ApiError(404, 'GET /apis/debuggrant.dev/v1alpha1/namespaces/shop/debuggrants/g', {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'NotFound',
      message: 'not found',
      code: 404,
      ...(details ? { details } : {}),
    });
  const proxyPage = new ApiError(404, 'GET /k8s/clusters/c-1/apis/…', '<html><body>404 page not found</body></html>');

  test("the API server's NotFound Status naming an object of the resource: gone", () => {
    expect(isNotFoundStatus(notFound({ name: 'g', group: 'debuggrant.dev', kind: 'debuggrants' }), 'debuggrants')).toBe(true);
    expect(isNotFoundStatus(new Error('updating failed', { cause: notFound({ name: 'g', kind: 'debuggrants' }) }), 'debuggrants')).toBe(true);
  });

  test("a proxy's HTML 404 is not gone, and temporary (retried soon, not after minutes as a refusal)", () => {
    expect(isNotFoundStatus(proxyPage, 'debuggrants')).toBe(false);
    expect(isTemporary(proxyPage)).toBe(true);
    expect(isTemporary(new Error('updating failed', { cause: proxyPage }))).toBe(true);
  });

  test('a NotFound about another resource (the namespace), or about no object (an API not served), is not gone either', () => {
    expect(isNotFoundStatus(notFound({ name: 'shop', kind: 'namespaces' }), 'debuggrants')).toBe(false);
    expect(isNotFoundStatus(notFound(undefined), 'debuggrants')).toBe(false);
    expect(isNotFoundStatus(notFound({}), 'debuggrants')).toBe(false);
    // The API server's own answers: permanent, as before.
    expect(isPermanent(notFound(undefined))).toBe(true);
    expect(isPermanent(notFound({ name: 'g', kind: 'debuggrants' }))).toBe(true);
  });
});

describe('a 404 about no object: the path is not served (the CLI says the API is not there)', () => {
  const target = { server: 'https://k8s.example:6443', context: 'prod', file: '/home/a/.kube/config', user: 'alice', namespace: 'shop' };
  const path = 'GET /apis/debuggrant.dev/v1alpha1/namespaces/shop/debuggrants';
  const status = (message: string, details: Record<string, string>) =>
    new ApiError(404, path, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', message, code: 404, details });

  test("the API server's plain-text answer for a path it does not serve (no CRD), or a NotFound naming no object", () => {
    // As the API server answers (test/integration/cli.test.ts reads it from the real one).
    const plain = new ApiError(404, path, '404 page not found');
    expect(isUnservedPath(plain)).toBe(true);
    expect(isUnservedPath(new Error('listing failed', { cause: plain }))).toBe(true);
    expect(isUnservedPath(status('the server could not find the requested resource', {}))).toBe(true);
    expect(describeClusterFailure(plain, target)).toBe(
      `the cluster at https://k8s.example:6443 (context "prod" of /home/a/.kube/config) does not serve that API (HTTP 404 from ${path}): ` +
        'install debuggrant (crds/ and config/), check the server address, or pick another --context',
    );
  });

  test("a NotFound naming an object or its namespace is that, told in the API server's words; other statuses are not 404s", () => {
    const missing = status('debuggrants.debuggrant.dev "g" not found', { name: 'g', group: 'debuggrant.dev', kind: 'debuggrants' });
    expect(isUnservedPath(missing)).toBe(false);
    expect(isUnservedPath(status('namespaces "shop" not found', { name: 'shop', kind: 'namespaces' }))).toBe(false);
    expect(describeClusterFailure(missing, target)).toBe('debuggrants.debuggrant.dev "g" not found');
    // Before: a Status whose message happened to read "could not find the requested resource"
    // was told as a missing API whatever it named.
    expect(describeClusterFailure(status('could not find the requested resource "g"', { name: 'g', kind: 'debuggrants' }), target)).toBe(
      'could not find the requested resource "g"',
    );
    expect(isUnservedPath(new ApiError(403, path, { kind: 'Status', reason: 'Forbidden', message: 'no', code: 403 }))).toBe(false);
    expect(isUnservedPath(new TypeError('fetch failed'))).toBe(false);
  });
});

describe('the Failing condition', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  test('set by a refused reconcile, cleared by the next one that completes', () => {
    const failing = failingStatus({ phase: 'Active', conditions: [] }, 'forbidden', 1, now);
    expect(failing.conditions?.find((c) => c.type === 'Failing')).toMatchObject({ status: 'True', reason: 'PermanentError', message: 'forbidden' });
    const decision = {
      phase: 'Active',
      reason: 'Activated',
      message: 'ok',
      pods: ['p'],
      activatedAt: now.toISOString(),
      expiresAt: now.toISOString(),
    } as GrantDecision;
    const next = desiredStatus(decision, failing, { granted: { ok: true, message: '' } }, undefined, 1, now);
    expect(next.conditions?.some((c) => c.type === 'Failing')).toBe(false);
  });
});
