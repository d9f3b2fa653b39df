// node:http without an ESM import. `import … from 'node:http'` builds the module's ESM
// namespace, which reads its lazy exports (WebSocket, CloseEvent, MessageEvent) and so loads
// Node's bundled undici, http2 and worker_threads: ~12 MB of RSS the operator never uses
// (docs/benchmark.md, "Idle"). The module object itself reads none of them.
export const { createServer } = process.getBuiltinModule('node:http');
