// The shape of src/: layers point down, and no module is part of a runtime import cycle.
//
// Two graphs, both read with the TypeScript compiler API:
// - every import (type-only ones included: a type import still couples two folders) must be an
//   edge the LAYERS table allows, and the table itself is acyclic, so no folder cycle exists;
// - the runtime graph (what Node loads: the imports TypeScript keeps after dropping the
//   type-only ones, dynamic import() included) has no cycle between files. A type-only cycle
//   inside one folder is harmless (erased at build time) and allowed.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../src');

/** Imported by anything: the error catalogue, redaction, cooperative yielding, object ids. */
const LEAVES = ['errors.ts', 'redact.ts', 'event-loop.ts', 'oid.ts'];

/**
 * Which unit may import which. A unit is a folder of src/ (its subfolders included unless
 * listed themselves) or a single file; a file belongs to the longest unit that contains it.
 * The request chain is cli → http → service → protocol → repo → pack (skipping down is fine);
 * auth, audit and db sit beside it; repo/fsck checks objects and needs only their codec.
 * db/ holds the store interfaces (db/stores.ts) and their implementations (db/sqlite/).
 */
const LAYERS: Record<string, string[]> = {
  cli: ['http', 'service', 'protocol', 'repo', 'auth', 'audit', 'db', 'net', 'log', 'config.ts', ...LEAVES],
  http: ['events', 'webhooks', 'service', 'protocol', 'repo', 'repo/fsck', 'repo/objects', 'repo/ref-result.ts', 'repo/ref-names.ts', 'pack', 'auth', 'audit', 'db', 'metrics', 'net', 'log', 'config.ts', ...LEAVES],
  service: ['events', 'webhooks', 'protocol', 'repo', 'repo/fsck', 'repo/objects', 'repo/ref-result.ts', 'repo/ref-names.ts', 'pack', 'auth', 'audit', 'db', 'net', 'log', 'config.ts', ...LEAVES],
  protocol: ['repo', 'repo/fsck', 'repo/objects', 'repo/ref-result.ts', 'repo/ref-names.ts', 'pack', ...LEAVES],
  repo: ['repo/fsck', 'repo/objects', 'repo/ref-result.ts', 'repo/ref-names.ts', 'pack', ...LEAVES],
  'repo/fsck': ['repo/objects', 'pack', 'repo/ref-names.ts', ...LEAVES],
  'repo/objects': ['pack', ...LEAVES],
  'repo/ref-names.ts': LEAVES,
  'repo/ref-result.ts': LEAVES,
  pack: LEAVES,
  events: ['audit', 'auth', ...LEAVES],
  webhooks: ['events', 'audit', 'auth', 'db', 'net', 'config.ts', ...LEAVES],
  auth: ['audit', 'db', 'repo/ref-names.ts', 'repo/ref-result.ts', ...LEAVES],
  audit: ['db', ...LEAVES],
  db: LEAVES,
  metrics: LEAVES,
  net: LEAVES,
  log: LEAVES,
  'config.ts': ['net', 'repo/fsck', ...LEAVES],
  'errors.ts': ['redact.ts'],
  'redact.ts': [],
  'event-loop.ts': [],
  'oid.ts': [],
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of `text` (TypeScript or emitted JavaScript), as paths under src/. */
function importsOf(file: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => path.relative(SRC, path.resolve(path.dirname(file), spec)).replace(/\.js$/, '.ts'));
}

type Graph = Map<string, string[]>;

/** Every import of one file, and the runtime ones (transpileModule drops what only types use, as tsc does for dist/). */
function importsOfSource(file: string, text: string): { all: string[]; runtime: string[] } {
  const js = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  return { all: importsOf(file, text), runtime: importsOf(file, js) };
}

/** file (relative to src/) → the files it imports: every import, and the runtime ones. */
function importGraphs(): { all: Graph; runtime: Graph } {
  const all: Graph = new Map();
  const runtime: Graph = new Map();
  for (const file of sourceFiles(SRC)) {
    const rel = path.relative(SRC, file);
    const imports = importsOfSource(file, fs.readFileSync(file, 'utf8'));
    all.set(rel, imports.all);
    runtime.set(rel, imports.runtime);
  }
  return { all, runtime };
}

function unitOf(rel: string): string | undefined {
  return Object.keys(LAYERS)
    .filter((u) => rel === u || rel.startsWith(`${u}/`))
    .sort((a, b) => b.length - a.length)[0];
}

/** Every cycle a depth-first search closes, as "a → b → a" (empty when the graph is acyclic). */
function cycles(graph: Map<string, readonly string[]>): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next].join(' → '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

describe('architecture', () => {
  const { all, runtime } = importGraphs();

  it('reads every kind of import, and tells the runtime ones from the type-only ones', () => {
    const source = [
      "import type { A } from './a.js';",
      "import { type B } from './b.js';",
      "import { c, type C } from './c.js';",
      "import { D } from './d.js';", // used as a type only: erased
      "export { e } from './e.js';",
      "import './f.js';",
      "const g = () => import('./g.js');",
      'export const x: A | B | C | D = c(g);',
    ].join('\n');
    const { all: every, runtime: kept } = importsOfSource(path.join(SRC, 'x/y.ts'), source);
    expect(every).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((n) => `x/${n}.ts`));
    expect(kept).toEqual(['c', 'e', 'f', 'g'].map((n) => `x/${n}.ts`));
    expect(all.size).toBeGreaterThan(100);
  });

  it('the layer table points down only: no cycle between its units', () => {
    expect(cycles(new Map(Object.entries(LAYERS)))).toEqual([]);
  });

  it('every file belongs to a unit of the table, and every unit exists', () => {
    expect([...all.keys()].filter((f) => !unitOf(f))).toEqual([]);
    expect(Object.keys(LAYERS).filter((u) => ![...all.keys()].some((f) => unitOf(f) === u))).toEqual([]);
  });

  it('every import, type-only ones included, is one the layer table allows', () => {
    const upward: string[] = [];
    for (const [file, deps] of all) {
      const from = unitOf(file)!;
      for (const dep of deps) {
        const to = unitOf(dep);
        if (to && to !== from && !LAYERS[from]!.includes(to)) upward.push(`${file} → ${dep} (${from} may not import ${to})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('no runtime import cycle between files', () => {
    expect(cycles(runtime)).toEqual([]);
  });

  it('only the SQLite store implementation (src/db/sqlite/) imports better-sqlite3', () => {
    const importers = sourceFiles(SRC)
      .filter((file) => ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true).importedFiles.some((i) => i.fileName === 'better-sqlite3'))
      .map((file) => path.relative(SRC, file));
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.filter((f) => !f.startsWith(`db${path.sep}sqlite${path.sep}`))).toEqual([]);
  });

  it('finds a cycle where there is one', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual(['a → b → c → a']);
  });
});
