// The YAML files a repository of grants holds: which files (directories recursively), and for
// prune, which DebugGrants each file defines. validate and prune read a checkout the same way.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import { KIND } from '../api/schema.ts';

/** Every *.yaml/*.yml under the paths, sorted; a path that is not a directory is taken as a file. */
export function yamlFiles(path: string): string[] {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return [path]; // a missing file is reported as unreadable
  return readdirSync(path)
    .sort()
    .flatMap((entry) => {
      const full = join(path, entry);
      return statSync(full).isDirectory() ? yamlFiles(full) : /\.ya?ml$/.test(entry) ? [full] : [];
    });
}

export interface GrantInFile {
  namespace: string;
  name: string;
  /** 1-based line of the document. */
  line: number;
  /** spec.notAfter as written, when it is a string. */
  notAfter: string | undefined;
}

export interface FileContents {
  file: string;
  grants: GrantInFile[];
  /** Documents that are not DebugGrants (a file holding them is never removed whole). */
  others: number;
  /** Why the file could not be read as YAML, if so. */
  unreadable?: string;
}

/** The DebugGrants each file defines (by kind), without validating them. */
export function grantsInFiles(paths: readonly string[]): FileContents[] {
  return paths.flatMap(yamlFiles).map((file): FileContents => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return { file, grants: [], others: 0, unreadable: 'cannot read this file' };
    }
    const lines = new LineCounter();
    const contents: FileContents = { file, grants: [], others: 0 };
    for (const doc of parseAllDocuments(text, { lineCounter: lines })) {
      if (doc.errors.length > 0) return { file, grants: [], others: 0, unreadable: 'not valid YAML (kubectl debuggrant validate says where)' };
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) continue;
      const o = value as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; spec?: { notAfter?: unknown } };
      if (o.kind !== KIND) {
        contents.others++;
        continue;
      }
      contents.grants.push({
        namespace: typeof o.metadata?.namespace === 'string' ? o.metadata.namespace : '',
        name: typeof o.metadata?.name === 'string' ? o.metadata.name : '',
        line: lines.linePos(doc.contents?.range[0] ?? 0).line,
        notAfter: typeof o.spec?.notAfter === 'string' ? o.spec.notAfter : undefined,
      });
    }
    return contents;
  });
}
