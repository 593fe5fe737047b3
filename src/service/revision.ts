// Names a REST caller may use for a commit (compare, ref creation): a full object id, HEAD, a
// full ref name, or a short name looked up in git's order (refs/<n>, refs/tags/<n>,
// refs/heads/<n>, as `git rev-parse` does), so the API and `git diff a...b` agree on a name.
import { GitgateError, isGitgateError } from '../errors.js';
import { checkWants, type WantPolicy } from '../protocol/fetch-core.js';
import { peelToCommit } from '../repo/ancestry.js';
import { isOid } from '../oid.js';
import { isStorableRefName } from '../repo/ref-names.js';
import type { Repository } from '../repo/repository.js';

export interface Resolved {
  /** The object the name points at (a tag object for an annotated tag). */
  oid: string;
  /** The ref the name was found as, null for an object id. */
  ref: string | null;
}

/**
 * Is `oid` reachable from a ref (HEAD, branches, tags), as a fetch's want must be? A REST call
 * naming an object by id must not read (or resurrect) what only a deleted branch reached.
 * GITGATE_ALLOW_ANY_SHA1_IN_WANT (`policy`) lifts the rule; the object must exist either way.
 */
export async function isReachable(repo: Repository, oid: string, policy: WantPolicy = {}): Promise<boolean> {
  try {
    await checkWants(repo, [oid], policy);
    return true;
  } catch (err) {
    if (isGitgateError(err, 'PROTOCOL')) return false; // "not our ref"
    throw err;
  }
}

/** What `name` points at, or null when it names nothing (or an object no ref reaches); 400 for a name git could never accept. */
export async function resolveRevision(repo: Repository, name: string, policy: WantPolicy = {}): Promise<Resolved | null> {
  if (name.length === 0 || name.length > 1024) throw new GitgateError('VALIDATION', { detail: 'a revision must be 1 to 1024 characters' });
  const lower = name.toLowerCase();
  if (isOid(lower)) return (await repo.objects.has(lower)) && (await isReachable(repo, lower, policy)) ? { oid: lower, ref: null } : null;
  if (name === 'HEAD') {
    const oid = await repo.refs.resolve('HEAD');
    return oid ? { oid, ref: (await repo.headTarget()) ?? 'HEAD' } : null;
  }
  const candidates = name.startsWith('refs/') ? [name] : [`refs/${name}`, `refs/tags/${name}`, `refs/heads/${name}`];
  if (!candidates.some(isStorableRefName)) throw new GitgateError('BAD_REF_NAME', { ref: name.slice(0, 200) });
  for (const ref of candidates) {
    if (!isStorableRefName(ref)) continue;
    const oid = await repo.refs.resolve(ref);
    if (oid) return { oid, ref };
  }
  return null;
}

/** The commit `name` peels to; 404 COMMIT_NOT_FOUND when it names no commit. */
export async function resolveCommitish(repo: Repository, name: string, policy: WantPolicy = {}): Promise<{ commit: string; ref: string | null; oid: string }> {
  const found = await resolveRevision(repo, name, policy);
  const commit = found ? await peelToCommit(repo.objects, found.oid) : null;
  if (!found || !commit) throw new GitgateError('COMMIT_NOT_FOUND', { commit: name.slice(0, 200) });
  return { commit, ref: found.ref, oid: found.oid };
}
