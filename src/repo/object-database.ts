// The objects of one repository, as protocol, service and maintenance code see them (JGit's
// ObjectDatabase): reads, pack-level access for reuse, the one inserter every write goes
// through, and the hooks maintenance uses to change the pack list. Implementation: ObjectStore
// (object-store.ts: packs + .idx, then loose objects, over any Storage — node fs or memfs).
import type { PackFile } from '../pack/pack-file.js';
import type { FileHandleLike } from '../pack/file-handle.js';
import type { GitObject, ObjectType } from '../pack/types.js';

export interface PackLocation {
  pack: PackFile;
  offset: number;
}

export interface PackInfo {
  /** Base name, pack-<sha>. */
  name: string;
  pack: PackFile;
  count: number;
}

/** The only way objects enter a repository: one at a time, or a received pack whole. */
export interface ObjectInserter {
  /** Store an object (a no-op when it is present); its id. Durable when the promise resolves. */
  insert(type: ObjectType, content: Buffer): Promise<string>;
  /** Start receiving a pack; nothing of it is visible until `install`. */
  newPack(): Promise<PackReceiver>;
}

export interface PackReceiver {
  /** Where the pack's bytes go (opened for reading and writing); the caller closes it. */
  readonly handle: FileHandleLike;
  /** Make the pack's objects visible, all at once (the index comes last); its base name. */
  install(idx: Buffer, checksum: Buffer): Promise<string>;
  /** Forget the pack (after a failure or a refusal): nothing of it stays. Never throws. */
  discard(): Promise<void>;
}

export interface ObjectDatabase {
  has(oid: string): Promise<boolean>;
  read(oid: string): Promise<GitObject | null>;
  readType(oid: string): Promise<{ type: ObjectType; size: number } | null>;
  /** Where an object sits in a pack, for verbatim reuse; null for loose or missing objects. */
  locate(oid: string): Promise<PackLocation | null>;
  /** True when some listed pack holds the object (binary id; no loose lookup, no rescan). */
  inPacks(oid: Buffer): boolean;
  /** The listed packs, largest first. */
  allPacks(): Promise<PackFile[]>;
  packInfos(): Promise<PackInfo[]>;
  readonly inserter: ObjectInserter;

  /**
   * Mark an operation that may hold PackFiles (or locations in them) across awaits; call the
   * returned function once when done. Retired packs close when none is running.
   */
  pin(): () => void;
  /** Pins running, retired packs still open, packs listed (diagnostics and tests). */
  readonly usage: { active: number; retired: number; packs: number };

  // maintenance hooks (repack, prune): the pack list changes under readers
  /** Look again for packs written by others, and drop packs deleted by others. */
  rescan(): Promise<void>;
  /** List a pack just installed by maintenance. */
  addPack(name: string): Promise<void>;
  /** Unlist packs about to be deleted (maybe later: until unignore() a rescan does not list them again). */
  retirePacks(names: string[]): Promise<void>;
  /** Retired packs whose files are still there (their deletion deferred). */
  readonly ignoredPacks: string[];
  /** The retired packs' files are gone: forget them. */
  unignore(names: string[]): void;
  /** Close every pack (the repository is going away). */
  close(): Promise<void>;
}
