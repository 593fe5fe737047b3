// Where a worker's module is (a child process or a worker thread started by this layer): the
// compiled one beside this file, or, when the server runs from source (tests under vitest),
// the TypeScript source through the loader scripts/ts-loader.mjs.
import { fileURLToPath } from 'node:url';

/** `name`: the module's base name in src/repo (e.g. 'repack-worker'). */
export function workerEntry(name: string): { file: string; execArgv: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return { file: fileURLToPath(new URL(`./${name}.ts`, here)), execArgv: ['--import', new URL('../../scripts/ts-loader.mjs', here).href] };
  }
  return { file: fileURLToPath(new URL(`./${name}.js`, here)), execArgv: [] };
}
