// `node hack/node/stop.ts <node dir>`: the full cleanup of a node whose owner is gone
// (run by the owner-death watchdog; does nothing when the node was already stopped).
import { readNodeState, stopNode } from './node.ts';

const dir = process.argv[2];
const state = dir ? readNodeState(dir) : undefined;
if (state) {
  stopNode(state).catch((err: unknown) => {
    process.stderr.write(`[node] cleanup of ${dir ?? ''} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
