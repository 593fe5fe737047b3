// C Git's fsck message catalogue (fsck.h FOREACH_FSCK_MSG_ID): every id with its default
// severity. Ids are camelCased as git prints them; configuration matches them case-insensitively.

export type Severity = 'fatal' | 'error' | 'warn' | 'info' | 'ignore';

export const FSCK_MESSAGES = {
  // fatal: cannot be demoted, the rest of the object is not parsed
  nulInHeader: 'fatal',
  unterminatedHeader: 'fatal',
  // errors
  badHeaderContinuation: 'error',
  badDate: 'error',
  badDateOverflow: 'error',
  badEmail: 'error',
  badGpgsig: 'error',
  badHeadTarget: 'error',
  badName: 'error',
  badObjectSha1: 'error',
  badPackedRefEntry: 'error',
  badPackedRefHeader: 'error',
  badParentSha1: 'error',
  badReferentName: 'error',
  badRefContent: 'error',
  badRefFiletype: 'error',
  badRefName: 'error',
  badRefOid: 'error',
  badTimezone: 'error',
  badTree: 'error',
  badTreeSha1: 'error',
  badType: 'error',
  duplicateEntries: 'error',
  gitattributesBlob: 'error',
  gitattributesLarge: 'error',
  gitattributesLineLength: 'error',
  gitattributesMissing: 'error',
  gitmodulesBlob: 'error',
  gitmodulesLarge: 'error',
  gitmodulesMissing: 'error',
  gitmodulesName: 'error',
  gitmodulesPath: 'error',
  gitmodulesSymlink: 'error',
  gitmodulesUpdate: 'error',
  gitmodulesUrl: 'error',
  missingAuthor: 'error',
  missingCommitter: 'error',
  missingEmail: 'error',
  missingNameBeforeEmail: 'error',
  missingObject: 'error',
  missingSpaceBeforeDate: 'error',
  missingSpaceBeforeEmail: 'error',
  missingTag: 'error',
  missingTagEntry: 'error',
  missingTree: 'error',
  missingType: 'error',
  missingTypeEntry: 'error',
  multipleAuthors: 'error',
  packedRefEntryNotTerminated: 'error',
  packedRefUnsorted: 'error',
  treeNotSorted: 'error',
  unknownType: 'error',
  zeroPaddedDate: 'error',
  // warnings (errors under receive.fsckObjects, which is strict)
  badReftableTableName: 'warn',
  emptyName: 'warn',
  fullPathname: 'warn',
  hasDot: 'warn',
  hasDotdot: 'warn',
  hasDotgit: 'warn',
  largePathname: 'warn',
  nullSha1: 'warn',
  nulInCommit: 'warn',
  zeroPaddedFilemode: 'warn',
  // infos: reported as warnings, never refuse
  badFilemode: 'info',
  badTagName: 'info',
  emptyPackedRefsFile: 'info',
  gitattributesSymlink: 'info',
  gitignoreSymlink: 'info',
  gitmodulesParse: 'info',
  mailmapSymlink: 'info',
  missingTaggerEntry: 'info',
  refMissingNewline: 'info',
  symlinkRef: 'info',
  symrefTargetIsNotARef: 'info',
  trailingRefContent: 'info',
  // ignored unless elevated
  extraHeaderEntry: 'ignore',
} as const satisfies Record<string, Severity>;

export type FsckMsgId = keyof typeof FSCK_MESSAGES;

const BY_LOWER = new Map<string, FsckMsgId>(Object.keys(FSCK_MESSAGES).map((id) => [id.toLowerCase(), id as FsckMsgId]));

/** The id for a name spelled in any case (git's parse_msg_id), or undefined. */
export function findMsgId(name: string): FsckMsgId | undefined {
  return BY_LOWER.get(name.toLowerCase());
}
