// Create an empty bare repository with the layout of `git init --bare` (minus hooks and the
// deprecated branches/ directory), so C Git can operate on it directly.
import path from 'node:path';
import { GitgateError } from '../errors.js';
import type { Storage } from './storage.js';
import { isValidRefName } from './ref-names.js';

const CONFIG = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n';
const DESCRIPTION = "Unnamed repository; edit this file 'description' to name the repository.\n";
const EXCLUDE = [
  '# git ls-files --others --exclude-from=.git/info/exclude',
  "# Lines that start with '#' are comments.",
  '# For a project mostly in C, the following would be a good set of',
  '# exclude patterns (uncomment them if you want to use them):',
  '# *.[oa]',
  '# *~',
  '',
].join('\n');

/**
 * Create `gitdir` as a bare repository whose HEAD points at refs/heads/<defaultBranch>.
 * Throws BAD_REF_NAME for an invalid branch name and NAME_TAKEN when a repository is already there.
 */
export async function initBareRepo(storage: Storage, gitdir: string, defaultBranch: string): Promise<void> {
  const head = `refs/heads/${defaultBranch}`;
  if (!isValidRefName(head)) throw new GitgateError('BAD_REF_NAME', { ref: head });
  if (await storage.exists(`${gitdir}/HEAD`)) {
    throw new GitgateError('NAME_TAKEN', { name: path.basename(gitdir).replace(/\.git$/, '') });
  }
  for (const dir of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags', 'info']) {
    await storage.mkdir(`${gitdir}/${dir}`);
  }
  await storage.writeFileAtomic(`${gitdir}/config`, CONFIG);
  await storage.writeFileAtomic(`${gitdir}/description`, DESCRIPTION);
  await storage.writeFileAtomic(`${gitdir}/info/exclude`, EXCLUDE);
  // HEAD last: C Git only recognises the directory as a repository once HEAD exists
  await storage.writeFileAtomic(`${gitdir}/HEAD`, `ref: ${head}\n`);
  await storage.syncDir(gitdir);
}
