// A logger whose JSON lines a test reads back (level, msg and the fields each line carries).
import { Writable } from 'node:stream';
import { makeLogger } from '../../src/log.ts';

export function logSink(): { log: ReturnType<typeof makeLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: makeLogger('info', sink), lines };
}
