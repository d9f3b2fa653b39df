// The grantee's real path on the real node: for each access kind, the kubectl command a
// person runs, as that person (alice), against a running pod, with only the grant's Role.
// The same commands as bob (no grant) are refused.
import { request } from 'node:http';
import { eventually, freshNamespace, kubectl } from '../support/cluster.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { activeGrant, describeOnNode, kubectlSession, runningPod, testNode } from '../support/node.ts';

describeOnNode('kubectl as the grantee, on a real node', () => {
  let ns: string;
  let op: TestOperator;
  const grant = (name: string, access: string[], labels: Record<string, string>) => activeGrant(ns, name, labels, { access });

  beforeAll(async () => {
    ns = await freshNamespace('flows');
    op = await startTestOperator([ns]);
  });
  afterAll(async () => {
    await op.stop();
  });

  test('debug -it: the debug container runs under the restricted profile (uid 65532, no capabilities)', async () => {
    await runningPod(ns, 'web-1', { app: 'web' });
    await grant('dbg', ['debug'], { app: 'web' });
    const image = testNode().images.debugNonRoot.ref;
    const session = kubectlSession('alice', ['-n', ns, 'debug', '-it', 'web-1', `--image=${image}`, '--profile=restricted', '--container=dbg1', '--', 'sh'], {
      tty: true,
    });
    try {
      await session.waitFor("If you don't see a command prompt");
      session.child.stdin.write('echo "uid=$(id -u)"; grep CapEff /proc/self/status; exit\n');
      await session.waitFor(/CapEff:\s+0+\b/);
      expect(session.output()).toMatch(/uid=65532\b/);
      expect(await session.exited).toBe(0);
    } finally {
      await session.stop();
    }
    // bob has no grant: refused by RBAC before anything is added.
    const refused = await kubectl('bob', ['-n', ns, 'debug', 'web-1', `--image=${image}`, '--profile=restricted', '--container=dbg2', '--', 'true']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/forbidden/i);
  });

  test('exec -it runs a command in the app container', async () => {
    await runningPod(ns, 'api-1', { app: 'api' });
    await grant('exec', ['exec'], { app: 'api' });
    const session = kubectlSession('alice', ['-n', ns, 'exec', '-it', 'api-1', '--', 'sh'], { tty: true });
    try {
      session.child.stdin.write('echo exec-ok-$((6*7)); exit\n');
      await session.waitFor('exec-ok-42');
      expect(await session.exited).toBe(0);
    } finally {
      await session.stop();
    }
    expect((await kubectl('bob', ['-n', ns, 'exec', '-i', 'api-1', '--', 'true'])).stderr).toMatch(/forbidden/i);
  });

  test('attach -i talks to the running container', async () => {
    // An interactive shell: what attach -it connects to.
    await runningPod(ns, 'shell-1', { app: 'shell' }, { command: ['sh'], stdin: true, tty: true });
    await grant('attach', ['attach'], { app: 'shell' });
    const session = kubectlSession('alice', ['-n', ns, 'attach', '-it', 'shell-1'], { tty: true });
    try {
      // Attach has no "connected" signal: repeat the command until the shell answers.
      await eventually(
        async () => {
          session.child.stdin.write('echo attach-ok-$((6*7))\n');
          await new Promise((r) => setTimeout(r, 300));
          return session.output();
        },
        (out) => out.includes('attach-ok-42'),
        30_000,
        0,
      );
    } finally {
      await session.stop();
    }
    expect((await kubectl('bob', ['-n', ns, 'attach', 'shell-1'])).stderr).toMatch(/forbidden/i);
  });

  test('port-forward reaches a port inside the pod', async () => {
    await runningPod(
      ns,
      'http-1',
      { app: 'http' },
      {
        command: ['sh', '-c', 'mkdir -p /tmp/www && echo pf-ok > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /tmp/www'],
      },
    );
    await grant('pf', ['portForward'], { app: 'http' });
    const session = kubectlSession('alice', ['-n', ns, 'port-forward', 'pod/http-1', ':8080']);
    try {
      await session.waitFor(/Forwarding from 127\.0\.0\.1:\d+/);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(session.output())?.[1]);
      expect(await httpGet(port)).toBe('pf-ok\n');
    } finally {
      await session.stop();
    }
    expect((await kubectl('bob', ['-n', ns, 'port-forward', 'pod/http-1', ':8080'])).stderr).toMatch(/forbidden/i);
  });

  test('logs -f follows the container output', async () => {
    await runningPod(ns, 'ticker-1', { app: 'ticker' }, { command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick-$i; sleep 1; done'] });
    await grant('logs', ['logs'], { app: 'ticker' });
    const session = kubectlSession('alice', ['-n', ns, 'logs', '-f', 'ticker-1']);
    try {
      await session.waitFor('tick-1');
      // Following, not a one-off read: a later line arrives on the same stream.
      await session.waitFor('tick-3');
    } finally {
      await session.stop();
    }
    expect((await kubectl('bob', ['-n', ns, 'logs', 'ticker-1'])).stderr).toMatch(/forbidden/i);
  });
});

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString('utf8');
      });
      res.on('end', () => {
        resolve(body);
      });
    })
      .on('error', reject)
      .end();
  });
}
