// What a finding does to a push: C Git's receive.fsckObjects (index-pack --strict) with
// receive.fsck.<msg-id> overrides and receive.fsck.skipList. Parsed once at start-up.
import { isOid } from '../../oid.js';
import { FSCK_MESSAGES, findMsgId, type FsckMsgId } from './messages.js';

/** How a finding is reported: an error refuses the object, a warning is printed, ignore drops it. */
export type Outcome = 'error' | 'warn' | 'ignore';

export interface FsckPolicy {
  /** Severities set by configuration, winning over the defaults. */
  overrides: ReadonlyMap<FsckMsgId, Outcome>;
  /** Objects whose findings are not reported at all (git's skipList), as hex ids. */
  skip: ReadonlySet<string>;
  /** Longest tree entry name before largePathname (git's `largePathname=warn:<len>`). */
  maxPathnameLength: number;
}

export const DEFAULT_FSCK_POLICY: FsckPolicy = { overrides: new Map(), skip: new Set(), maxPathnameLength: 4096 };

/** fsck_msg_type + fsck_vreport in strict mode: warn counts as error, fatal reads error, info reads warn. */
export function outcomeOf(policy: FsckPolicy, id: FsckMsgId): Outcome {
  const set = policy.overrides.get(id);
  if (set) return set;
  const severity = FSCK_MESSAGES[id];
  if (severity === 'ignore') return 'ignore';
  return severity === 'info' ? 'warn' : 'error';
}

/**
 * `badFilemode=error,missingEmail=ignore` (git's fsck_set_msg_types: separators ',', ' ' or '|';
 * ids in any case; severities error, warn, ignore). Throws a plain Error with the reason.
 */
export function parseFsckSeverities(spec: string): { overrides: Map<FsckMsgId, Outcome>; maxPathnameLength?: number } {
  const overrides = new Map<FsckMsgId, Outcome>();
  let maxPathnameLength: number | undefined;
  for (const item of spec.split(/[ ,|]+/)) {
    if (item === '') continue;
    const eq = item.search(/[=:]/);
    if (eq < 0) throw new Error(`missing '=' in ${JSON.stringify(item)}`);
    const name = item.slice(0, eq);
    let value = item.slice(eq + 1);
    if (name.toLowerCase() === 'skiplist') throw new Error('set the skip list with GITGATE_FSCK_SKIPLIST');
    const id = findMsgId(name);
    if (!id) throw new Error(`unknown fsck message id ${JSON.stringify(name)}`);
    if (id === 'largePathname' && value.includes(':')) {
      const len = value.slice(value.indexOf(':') + 1);
      if (!/^[0-9]+$/.test(len)) throw new Error(`bad largePathname length ${JSON.stringify(len)}`);
      maxPathnameLength = Number(len);
      value = value.slice(0, value.indexOf(':'));
    }
    if (value !== 'error' && value !== 'warn' && value !== 'ignore') {
      throw new Error(`unknown fsck message type ${JSON.stringify(value)} for ${id} (error, warn or ignore)`);
    }
    if (value !== 'error' && FSCK_MESSAGES[id] === 'fatal') throw new Error(`cannot demote ${id} to ${value}`);
    overrides.set(id, value);
  }
  return maxPathnameLength === undefined ? { overrides } : { overrides, maxPathnameLength };
}

/** git's skip list (oidset_parse_file): one hex id per line, `#` comments, blank lines. */
export function parseSkipList(text: string): Set<string> {
  const skip = new Set<string>();
  for (const raw of text.split('\n')) {
    const hash = raw.indexOf('#');
    const line = (hash < 0 ? raw : raw.slice(0, hash)).trim();
    if (line === '') continue;
    const oid = line.toLowerCase();
    if (!isOid(oid)) throw new Error(`invalid object name: ${line.slice(0, 80)}`);
    skip.add(oid);
  }
  return skip;
}
