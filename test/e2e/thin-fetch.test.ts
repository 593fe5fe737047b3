// A one-commit fetch stays small: a changed file that the server stores whole goes to a
// client that has its previous version as a delta against that version (a thin pack), as C
// Git's upload-pack sends it. Checked on the pack git keeps: `git verify-pack -v` shows the
// new blob as a delta whose base is the old one.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer('fs');
});
afterAll(async () => {
  await s.close();
});

/** 400 lines that do not compress: a whole copy costs about its size. */
const lines = Array.from({ length: 400 }, (_, i) => crypto.createHash('sha256').update(`line ${i}`).digest('hex'));

/** verify-pack -v rows of the packs in `gitDir`: oid → [type, size, size-in-pack, offset, depth?, base?]. */
async function packRows(gitDir: string): Promise<Map<string, string[]>> {
  const rows = new Map<string, string[]>();
  const dir = path.join(gitDir, 'objects', 'pack');
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.idx'))) {
    for (const line of (await gitOk(['verify-pack', '-v', path.join(dir, f)])).split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (/^[0-9a-f]{40}$/.test(cols[0]!)) rows.set(cols[0]!, cols.slice(1));
    }
  }
  return rows;
}

describe('thin fetches', () => {
  for (const version of ['0', '2']) {
    it(`v${version}: a changed file goes as a delta against the client's version`, async () => {
      const id = await s.createRepo();
      const url = s.gitUrl(id, s.admin);
      const work = path.join(tmpDir('gitgate-thin-'), 'w');
      await gitOk(['init', '-q', '-b', 'main', work]);
      await commitFiles(work, { 'data.txt': `${lines.join('\n')}\n`, 'other.txt': 'other\n' }, 'first');
      await gitOk(['push', '-q', url, 'main'], { cwd: work });

      const client = path.join(tmpDir('gitgate-thin-client-'), 'c.git');
      await gitOk(['clone', '-q', '--bare', url, client]);
      const oldBlob = (await gitOk(['--git-dir', client, 'rev-parse', 'main:data.txt'])).trim();

      // one changed line, committed through the REST API: the server stores the new blob whole
      // (a pushed one would arrive, and be kept, as a delta the fetch could simply reuse)
      const changed = [...lines];
      changed[200] = 'a changed line';
      const put = await s.api.put(`/v1/repo/${id}/file/data.txt`).set('Authorization', `Bearer ${s.admin}`)
        .set('Content-Type', 'application/octet-stream').send(Buffer.from(`${changed.join('\n')}\n`));
      expect(put.status).toBe(200);

      // keep the fetched pack (no unpacking into loose objects) to look at its entries
      await gitOk(['--git-dir', client, '-c', `protocol.version=${version}`, '-c', 'fetch.unpackLimit=1', 'fetch', '-q', url, '+refs/heads/*:refs/heads/*']);
      const newBlob = (await gitOk(['--git-dir', client, 'rev-parse', 'main:data.txt'])).trim();
      const row = (await packRows(client)).get(newBlob);
      expect(row, 'the new blob is in a kept pack').toBeDefined();
      // for a delta, verify-pack's columns are: type, delta size, size in pack, offset, depth, base
      const [type, , sizeInPack, , depth, base] = row!;
      expect(type).toBe('blob');
      expect(depth).toBe('1');
      expect(base).toBe(oldBlob);
      const blobSize = Number((await gitOk(['--git-dir', client, 'cat-file', '-s', newBlob])).trim());
      expect(Number(sizeInPack)).toBeLessThan(blobSize / 20);
      await gitOk(['--git-dir', client, 'fsck', '--full', '--no-dangling']);
      await s.fsck(id);
    }, 120_000);
  }
});
