// serveReceivePack driven directly: keepalive packets while a pushed pack is checked (only once
// the request body has ended), and the report that follows them.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serveReceivePack } from '../../src/protocol/receive-pack.js';
import { initBareRepo } from '../../src/repo/init.js';
import { Repository } from '../../src/repo/repository.js';
import { nodeStorage } from '../../src/repo/storage.js';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { ZERO, demux, fastImportCommits, packRevs, receiveRequest } from '../helpers/push.js';
import { parseReportStatus } from '../../src/protocol/report-status.js';

describe('serveReceivePack', () => {
  it('sends side-band keepalives while it checks the pack, never before the body has ended', async () => {
    const storage = nodeStorage(tmpDir('gitgate-rp-')); // real I/O: memfs may finish without the event loop turning
    const gitdir = `${storage.root}/r.git`;
    await initBareRepo(storage, gitdir, 'main');
    const repo = new Repository(storage, 'r', gitdir, { maintenance: { enabled: false } });
    const src = path.join(tmpDir(), 'src');
    await gitOk(['init', '-q', '-b', 'main', src]);
    await commitFiles(src, { 'a.txt': 'a\n' }, 'root');
    const tip = await fastImportCommits(src, 'refs/heads/main', 300, { parent: (await gitOk(['rev-parse', 'HEAD'], { cwd: src })).trim() });
    const pack = await packRevs(src, [tip]);
    const body = receiveRequest([{ old: ZERO, new: tip, ref: 'refs/heads/main' }], pack, { caps: ['report-status', 'side-band-64k'] });

    let bodyEnded = false;
    async function* slowBody(): AsyncGenerator<Buffer> {
      for (let i = 0; i < body.length; i += 4096) {
        if (i % (64 * 1024) === 0) await new Promise((r) => setTimeout(r, 5));
        yield body.subarray(i, i + 4096);
      }
      bodyEnded = true;
    }
    const chunks: Buffer[] = [];
    let keepalives = 0;
    for await (const chunk of serveReceivePack(repo, slowBody(), { keepaliveMs: 1 })) {
      if (chunk.toString('latin1') === '0005\x01') {
        expect(bodyEnded).toBe(true);
        keepalives++;
      }
      chunks.push(chunk);
    }
    expect(keepalives).toBeGreaterThan(0);
    const { data } = await demux(Buffer.concat(chunks));
    expect(await parseReportStatus(data)).toEqual({ unpack: 'ok', refs: [{ ref: 'refs/heads/main', ok: true }] });
    expect(await repo.refs.resolve('refs/heads/main')).toBe(tip);
    await repo.close();
  });

  it('asks for its maintenance run only once the report is out (the worker would add to the push\'s peak memory)', async () => {
    const storage = nodeStorage(tmpDir('gitgate-rp-'));
    const gitdir = `${storage.root}/r.git`;
    await initBareRepo(storage, gitdir, 'main');
    // a long delay: the run is requested, never started, during the test
    const repo = new Repository(storage, 'r', gitdir, { maintenance: { delayMs: 60_000 } });
    const src = path.join(tmpDir(), 'src');
    await gitOk(['init', '-q', '-b', 'main', src]);
    await commitFiles(src, { 'a.txt': 'a\n' }, 'root');
    const tip = (await gitOk(['rev-parse', 'HEAD'], { cwd: src })).trim();
    const body = receiveRequest([{ old: ZERO, new: tip, ref: 'refs/heads/main' }], await packRevs(src, [tip]), { caps: ['report-status', 'side-band-64k'] });
    const chunks: Buffer[] = [];
    for await (const chunk of serveReceivePack(repo, (async function* () { yield body; })())) {
      expect(repo.maintenance.requests).toBe(0); // the report is being sent
      chunks.push(chunk);
    }
    expect(repo.maintenance.requests).toBe(1);
    const { data } = await demux(Buffer.concat(chunks));
    expect(await parseReportStatus(data)).toEqual({ unpack: 'ok', refs: [{ ref: 'refs/heads/main', ok: true }] });
    await repo.close();
  });
});
