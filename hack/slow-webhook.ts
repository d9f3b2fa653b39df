// A validating admission webhook that answers "allowed" after a fixed delay: the classic way
// a real cluster's API server gets slow (a policy engine, or a webhook whose backend is
// struggling). Every request it sees holds its APF seat for the whole delay while using almost
// no CPU on either side: the overload bench saturates priority levels with it without starving
// the machine's cores, and a test makes the API server slow to answer RoleBinding deletes.
// Loopback only; its serving certificate is self-signed for 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** Which requests it sees: a rule of a ValidatingWebhookConfiguration. */
export interface WebhookRule {
  operations: string[];
  apiGroups: string[];
  resources: string[];
}

export interface SlowWebhook {
  /** A ValidatingWebhookConfiguration named `name` sending it the requests of `rule` in `namespace`. */
  configuration(name: string, namespace: string, rule: WebhookRule): object;
  /** Reviews answered so far. */
  readonly answered: number;
  close(): Promise<void>;
}

export async function startSlowWebhook(dir: string, delayMs: number): Promise<SlowWebhook> {
  const key = join(dir, 'webhook.key');
  const cert = join(dir, 'webhook.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=bench-slow-webhook',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let answered = 0;
  const server: Server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request?: { uid?: string } };
      setTimeout(() => {
        answered++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request?.uid ?? '', allowed: true } }));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    configuration: (name, namespace, rule) => ({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name },
      webhooks: [
        {
          name: `${name}.slow.debuggrant.example`,
          clientConfig: { url: `https://127.0.0.1:${String(port)}/validate`, caBundle: readFileSync(cert).toString('base64') },
          rules: [{ ...rule, apiVersions: ['v1'], scope: 'Namespaced' }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 10,
          failurePolicy: 'Fail',
        },
      ],
    }),
    get answered() {
      return answered;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
