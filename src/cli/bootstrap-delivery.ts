// Where serve puts the bootstrap admin token. Printed only to a terminal: piped stdout ends up
// in service logs and CI output. Otherwise it goes to a 0600 file (GITGATE_BOOTSTRAP_TOKEN_FILE,
// or <data>/bootstrap-token) and stdout says where.
import fs from 'node:fs';
import path from 'node:path';
import { GitgateError } from '../errors.js';
import { ensurePrivateDir, writePrivateFile } from '../service/data-dir.js';

export const BOOTSTRAP_TOKEN_FILE = 'bootstrap-token';

/** `dataDir`: the file is in the data directory, created 0700 if need be (never chmod the
 *  operator's own directory). */
export type BootstrapDestination = { kind: 'terminal' } | { kind: 'file'; file: string; dataDir?: string };

/** Decided (and checked) before the token is minted: a token nobody can read would lock the
 *  operator out, since only an empty database gets one. */
export function bootstrapDestination(dataDir: string, env: Record<string, string | undefined>, isTTY: boolean): BootstrapDestination {
  const configured = env.GITGATE_BOOTSTRAP_TOKEN_FILE;
  if (configured) {
    const file = path.resolve(configured);
    try {
      fs.accessSync(path.dirname(file), fs.constants.W_OK);
    } catch {
      throw new GitgateError('CONFIG', { detail: `GITGATE_BOOTSTRAP_TOKEN_FILE: directory ${path.dirname(file)} does not exist or is not writable` });
    }
    return { kind: 'file', file };
  }
  if (isTTY) return { kind: 'terminal' };
  return { kind: 'file', file: path.join(dataDir, BOOTSTRAP_TOKEN_FILE), dataDir };
}

export function deliverBootstrapToken(secret: string, dest: BootstrapDestination, out: (line: string) => void): void {
  if (dest.kind === 'terminal') {
    out('================================================================');
    out('gitgate: created the first workspace admin token. It is shown');
    out('only this once; store it now:');
    out(`  ${secret}`);
    out('================================================================');
    return;
  }
  if (dest.dataDir) ensurePrivateDir(dest.dataDir); // --memory has not created it
  writePrivateFile(dest.file, `${secret}\n`);
  out(`gitgate: created the first workspace admin token in ${dest.file} (mode 0600); store it and delete the file`);
}
