// What can be checked of the image without a Docker engine: the Dockerfile parses clean
// (dockerfile-utils, the Docker language server's validator), and the rules we hold it to.
// hack/check-image-build.sh (part of npm test) runs its build steps for real.
import { readFileSync } from 'node:fs';
import { validate } from 'dockerfile-utils';
import { parseAllDocuments } from 'yaml';
import { DEPLOYMENT_NODE_ARGS } from '../../bench/cluster.ts';

const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+\s/.test(l));

describe('Dockerfile', () => {
  test('has no problems the Dockerfile validator finds', () => {
    expect(validate(dockerfile).map((d) => `${String(d.range.start.line + 1)}: ${typeof d.message === 'string' ? d.message : d.message.value}`)).toEqual([]);
  });

  test('pins every base image by digest, runs non-root, exec-form command, no remote ADD', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from).toMatch(/^FROM \S+@sha256:[a-f0-9]{64}( AS \w+)?$/);
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(finalStage).toMatch(/\nUSER 65532:65532\n/);
    expect(finalStage).toMatch(/\nCMD \[("--[a-z-]+=\w+", )*"operator\.mjs"\]\n/);
    expect(finalStage).not.toMatch(/npm|RUN |node_modules/);
    expect(instructions.some((l) => l.startsWith('ADD '))).toBe(false);
  });

  test('the runtime stage gets the bundle (npm run bundle) and its licences, nothing else from the build', () => {
    expect(dockerfile).toMatch(/\nRUN npm run bundle && node hack\/third-party-licenses\.ts\n/);
    const copies = instructions.filter((l) => l.startsWith('COPY --from=build'));
    expect(copies).toEqual(['COPY --from=build /app/dist/operator.mjs /app/dist/operator.mjs.LEGAL.txt /app/dist/THIRD_PARTY_LICENSES.txt ./']);
    // Every file the build stage needs is let through .dockerignore.
    const ignore = readFileSync(new URL('../../.dockerignore', import.meta.url), 'utf8');
    const hackFiles = /COPY (hack\/\S+(?: hack\/\S+)*) \.\/hack\//.exec(dockerfile)?.[1]?.split(' ') ?? [];
    expect(hackFiles).toContain('hack/bundle.ts');
    for (const file of hackFiles) expect(ignore).toContain(`!${file}\n`);
  });

  test('the Deployment runs it the way it was built for', () => {
    const manager = readFileSync(new URL('../../config/manager/manager.yaml', import.meta.url), 'utf8');
    expect(manager).toContain('readOnlyRootFilesystem: true');
    expect(manager).toContain('runAsUser: 65532');
    expect(manager).toContain('replicas: 2');
  });

  test("the benches run the operator with the Node flags it ships with: the Deployment's NODE_OPTIONS, then the image's CMD flags", () => {
    const manager = parseAllDocuments(readFileSync(new URL('../../config/manager/manager.yaml', import.meta.url), 'utf8')).map((d) => d.toJS() as unknown);
    const deployment = manager.find((d) => (d as { kind?: string }).kind === 'Deployment') as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    const nodeOptions = deployment.spec.template.spec.containers[0]?.env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
    const cmd = JSON.parse(instructions.find((l) => l.startsWith('CMD '))?.slice(4) ?? '[]') as string[];
    expect(DEPLOYMENT_NODE_ARGS).toEqual([...nodeOptions.split(' '), ...cmd.slice(0, -1)]);
  });
});
