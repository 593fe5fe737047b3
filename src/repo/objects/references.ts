// What an object points at, for connectivity walks (pack ingest's link check).
import { isObjectType, type ObjectType } from '../../pack/types.js';
import { parseCommit } from './commit.js';
import { parseTag } from './tag.js';
import { isTreeMode, parseTree } from './tree.js';

/** Objects an object points at, for connectivity walks. Gitlinks (submodule commits) are skipped. */
export function referencedOids(type: ObjectType, content: Buffer): { oid: string; type?: ObjectType }[] {
  switch (type) {
    case 'blob':
      return [];
    case 'tree':
      return parseTree(content)
        .filter((e) => parseInt(e.mode, 8) !== 0o160000)
        .map((e) => ({ oid: e.oid, type: isTreeMode(e.mode) ? ('tree' as const) : ('blob' as const) }));
    case 'commit': {
      const c = parseCommit(content);
      return [{ oid: c.tree, type: 'tree' as const }, ...c.parents.map((oid) => ({ oid, type: 'commit' as const }))];
    }
    case 'tag': {
      const t = parseTag(content);
      return [isObjectType(t.type) ? { oid: t.object, type: t.type } : { oid: t.object }];
    }
  }
}
