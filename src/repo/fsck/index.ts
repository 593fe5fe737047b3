// fsck as C Git's receive-pack runs it (receive.fsckObjects): per-object checks with message
// ids and severities from fsck.h, a policy for overrides and the skip list, and the blob
// checks that can only run once every tree of a pack has been seen.
import type { ObjectType } from '../../pack/types.js';
import { fsckGitattributes } from './blob.js';
import { fsckCommit } from './commit.js';
import { fsckGitmodules } from './gitmodules.js';
import { DEFAULT_FSCK_POLICY, type FsckPolicy } from './policy.js';
import { Reporter, type Finding } from './reporter.js';
import { fsckTag } from './tag.js';
import { fsckTree, type SpecialBlobs } from './tree.js';

export type { Finding } from './reporter.js';
export type { SpecialBlobs } from './tree.js';
export { DEFAULT_FSCK_POLICY, type FsckPolicy } from './policy.js';

/** Findings for one object, in the order git reports them; `found` collects blobs to check later. */
export function fsckObject(oid: string, type: ObjectType, content: Buffer, policy: FsckPolicy, found?: SpecialBlobs): Finding[] {
  const r = new Reporter(policy, oid);
  if (type === 'tree') fsckTree(content, r, found ?? { gitmodules: new Set(), gitattributes: new Set() });
  else if (type === 'commit') fsckCommit(content, r);
  else if (type === 'tag') fsckTag(content, r);
  return r.findings;
}

/**
 * fsck_blobs for a blob a tree named .gitmodules or .gitattributes; `type` null when it is not
 * in the repository (left to the connectivity check, as index-pack leaves it to receive-pack).
 */
export function fsckSpecialBlob(
  kind: 'gitmodules' | 'gitattributes',
  oid: string,
  type: ObjectType | null,
  content: Buffer | null,
  policy: FsckPolicy,
): Finding[] {
  const r = new Reporter(policy, oid);
  if (type !== null && type !== 'blob') {
    r.report(kind === 'gitmodules' ? 'gitmodulesBlob' : 'gitattributesBlob', `non-blob found at .${kind}`);
  } else if (content) {
    if (kind === 'gitmodules') fsckGitmodules(content, r);
    else fsckGitattributes(content, r);
  }
  return r.findings;
}

/** A finding as git prints it after `error: ` or `warning: `. */
export function formatFinding(oid: string, f: Finding): string {
  return `object ${oid}: ${f.id}: ${f.message}`;
}

/**
 * The first finding that refuses the object under the default policy, as "<msgId>: <message>",
 * or null. For objects gitgate writes itself (a last line of defence) and for tests.
 */
export function checkObject(type: ObjectType, content: Buffer, policy: FsckPolicy = DEFAULT_FSCK_POLICY): string | null {
  const error = fsckObject('', type, content, policy).find((f) => f.outcome === 'error');
  return error ? `${error.id}: ${error.message}` : null;
}
