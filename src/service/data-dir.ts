// The data directory holds token hashes, the audit trail and every repository: it is the
// owner's alone (0700) whatever the umask, and so are the secrets gitgate writes into files.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

export const DATA_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Create `dir` (and missing parents) and make it 0700. An existing directory is tightened
 *  too: installs made before this rule must not stay readable by every local user. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
  if ((fs.statSync(dir).mode & 0o777) !== DATA_DIR_MODE) fs.chmodSync(dir, DATA_DIR_MODE);
}

/** Write `content` to `file` as 0600, atomically: a temporary sibling created 0600 (so the
 *  secret is never readable by others, not even for a moment) renamed over it. */
export function writePrivateFile(file: string, content: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  const fd = fs.openSync(tmp, 'wx', PRIVATE_FILE_MODE);
  try {
    fs.fchmodSync(fd, PRIVATE_FILE_MODE); // an odd umask must not leave it unreadable to us either
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
