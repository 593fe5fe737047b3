// A RefDatabase in a Map (JGit's InMemoryRepository refs): no Storage, no lock files. A batch
// is checked and applied without an await in between, so it is atomic and compare-and-swap is
// exact by construction. The same rules as the files backend apply (ref-database.ts: names,
// ids, duplicates, D/F within the batch; here also D/F against stored refs and case clashes),
// so the shared suite runs against both. Instances built over one `MemoryRefState` share it.
import { GitgateError } from '../errors.js';
import { oidOrNull } from '../oid.js';
import { compareRefNames } from './packed-refs.js';
import { RefCaseIndex } from './ref-names.js';
import {
  MAX_SYMREF_DEPTH,
  assertRefName,
  assertSeedEntries,
  assertSymrefTarget,
  assertUpdateShapes,
  casFailure,
  dfConflict,
  failAtomically,
  refFailure,
  staticChecks,
  type PeeledRefEntry,
  type RefDatabase,
  type RefEntry,
  type RefUpdate,
  type RefUpdateResult,
} from './ref-database.js';

type Stored = { kind: 'oid'; oid: string } | { kind: 'symref'; target: string };

export type MemoryRefState = Map<string, Stored>;

export class InMemoryRefDatabase implements RefDatabase {
  constructor(readonly state: MemoryRefState = new Map()) {}

  async resolve(name: string): Promise<string | null> {
    assertRefName(name);
    return this.resolveNow(name);
  }

  async readSymbolic(name: string): Promise<string | null> {
    assertRefName(name);
    const ref = this.state.get(name);
    return ref?.kind === 'symref' ? ref.target : null;
  }

  async setSymbolic(name: string, target: string): Promise<void> {
    assertRefName(name);
    assertSymrefTarget(target);
    const conflict = this.directoryConflict(name);
    if (conflict) throw new GitgateError('VALIDATION', { detail: conflict });
    this.state.set(name, { kind: 'symref', target });
  }

  async list(prefix = 'refs/'): Promise<RefEntry[]> {
    return (await this.listPeeled(prefix)).map(({ name, oid }) => ({ name, oid }));
  }

  async listPeeled(prefix = 'refs/'): Promise<PeeledRefEntry[]> {
    const out: PeeledRefEntry[] = [];
    for (const name of [...this.state.keys()].filter((n) => n.startsWith('refs/') && n.startsWith(prefix)).sort(compareRefNames)) {
      let oid: string | null;
      try {
        oid = this.resolveNow(name);
      } catch {
        oid = null; // a symref loop lists as nothing, as a broken ref does in the files backend
      }
      if (oid !== null) out.push({ name, oid, peeled: undefined });
    }
    return out;
  }

  async update(updates: RefUpdate[], opts: { atomic?: boolean } = {}): Promise<RefUpdateResult[]> {
    assertUpdateShapes(updates);
    const atomic = opts.atomic ?? false;
    const results = staticChecks(updates);
    if (atomic && results.some(Boolean)) return failAtomically(results, updates);
    this.caseConflicts(updates, results);
    if (atomic && results.some(Boolean)) return failAtomically(results, updates);
    for (let i = 0; i < updates.length; i++) {
      if (results[i]) continue;
      const u = updates[i]!;
      const newOid = oidOrNull(u.newOid);
      const stored = this.state.get(u.name);
      if (stored?.kind === 'symref') {
        results[i] = refFailure(u.name, 'invalid', `cannot lock ref '${u.name}': it is a symbolic ref`);
        continue;
      }
      const conflict = newOid !== null ? this.directoryConflict(u.name) : null;
      results[i] = conflict ? refFailure(u.name, 'conflict', conflict) : (casFailure(u.name, oidOrNull(u.oldOid), stored?.oid ?? null) ?? undefined);
    }
    if (atomic && results.some(Boolean)) return failAtomically(results, updates);
    return updates.map((u, i) => {
      const failed = results[i];
      if (failed) return failed;
      const newOid = oidOrNull(u.newOid);
      if (newOid === null) this.state.delete(u.name);
      else this.state.set(u.name, { kind: 'oid', oid: newOid });
      return { name: u.name, ok: true };
    });
  }

  async seed(entries: RefEntry[]): Promise<void> {
    assertSeedEntries(entries);
    if ([...this.state.keys()].some((n) => n.startsWith('refs/'))) throw new GitgateError('VALIDATION', { detail: 'the repository already has refs' });
    for (const e of entries) this.state.set(e.name, { kind: 'oid', oid: e.oid });
  }

  private resolveNow(name: string): string | null {
    let current = name;
    for (let depth = 0; depth <= MAX_SYMREF_DEPTH; depth++) {
      const ref = this.state.get(current);
      if (ref === undefined) return null;
      if (ref.kind === 'oid') return ref.oid;
      current = ref.target;
    }
    throw new GitgateError('CORRUPT_REPO', { detail: `symbolic ref ${name} nests too deeply` });
  }

  /** C Git's D/F rule: refs/heads/a and refs/heads/a/b cannot both exist. */
  private directoryConflict(name: string): string | null {
    const parts = name.split('/');
    for (let i = 2; i < parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/');
      if (this.state.has(ancestor)) return dfConflict(name, ancestor);
    }
    const below = [...this.state.keys()].filter((n) => n.startsWith(`${name}/`)).sort(compareRefNames)[0];
    return below ? dfConflict(name, below) : null;
  }

  /** A new ref differing only in case from a stored one (or an earlier one in the batch) is refused, as on disk. */
  private caseConflicts(updates: RefUpdate[], results: (RefUpdateResult | undefined)[]): void {
    const creating = updates.flatMap((u, i) => (!results[i] && oidOrNull(u.oldOid) === null && oidOrNull(u.newOid) !== null ? [i] : []));
    if (creating.length === 0) return;
    const index = new RefCaseIndex([...this.state.keys()].filter((n) => n.startsWith('refs/')));
    for (const i of creating) {
      const name = updates[i]!.name;
      const clash = index.clash(name);
      if (clash) results[i] = refFailure(name, 'conflict', `refname conflicts with existing ref ${clash} (case-insensitive)`);
      else index.add(name);
    }
  }
}
