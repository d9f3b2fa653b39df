// Where the bundled CLI's files lie, for hack/bundle.ts (which writes them) and hack/krew.ts
// (which packs them): the entry, and next to it one directory of the chunks it imports.
export const CLI_ENTRY = 'kubectl-debuggrant.mjs';
export const CLI_CHUNK_DIR = 'kubectl-debuggrant-lib';
