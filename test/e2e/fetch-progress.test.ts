// A fetch that takes long to enumerate its objects (a first clone of a big history) must not
// look idle: the client hears "Enumerating objects: N" on side-band 2 (or keepalives with
// no-progress) until the pack starts, on protocol v0 and v2. The enumeration is made slow with
// a hook; curl's low-speed limit stands for any idle timeout between client and server.
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchHooks } from '../../src/protocol/fetch-core.js';
import { git, tmpDir } from '../helpers/git.js';
import { fastImportCommits, scratchRepo } from '../helpers/push.js';
import { STORAGE_KINDS, startTestServer, type TestServer } from '../helpers/server.js';

const DELAY_MS = 5000;
/** Fail the transfer if it moves less than 1 byte/s for 2 s (like a proxy's idle timeout). */
const IDLE_LIMIT = ['-c', 'http.lowSpeedLimit=1', '-c', 'http.lowSpeedTime=2'];

describe.each(STORAGE_KINDS)('progress during slow enumeration (%s storage)', (kind) => {
  let s: TestServer;
  let id: string;
  let url: string;
  const tickMs = fetchHooks.tickMs;
  beforeAll(async () => {
    s = await startTestServer(kind);
    id = await s.createRepo();
    url = s.gitUrl(id, s.admin);
    const work = await scratchRepo();
    await fastImportCommits(work, 'refs/heads/main', 30);
    const r = await git(['push', '-q', url, 'main'], { cwd: work });
    expect(r.code).toBe(0);
  });
  afterEach(() => {
    fetchHooks.beforeEnumeration = null;
    fetchHooks.tickMs = tickMs;
  });
  afterAll(async () => {
    await s.close();
  });

  const slow = () => {
    fetchHooks.tickMs = 250;
    fetchHooks.beforeEnumeration = () => new Promise((r) => setTimeout(r, DELAY_MS));
  };

  it.each(['0', '2'])('protocol v%s: the client sees enumeration progress and the clone succeeds', async (version) => {
    slow();
    const dir = path.join(tmpDir(), 'c');
    const r = await git(['-c', `protocol.version=${version}`, ...IDLE_LIMIT, 'clone', '--progress', '--no-checkout', url, dir]);
    expect(r.stderr).not.toMatch(/fatal|error/);
    expect(r.code).toBe(0);
    const ticks = r.stderr.match(/remote: Enumerating objects: \d+ *\r/g) ?? [];
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    expect(r.stderr).toMatch(/remote: Enumerating objects: \d+, done\./);
    expect((await git(['rev-list', '--count', 'main'], { cwd: dir })).stdout.trim()).toBe('30');
    await s.fsck(id);
  });

  it.each(['0', '2'])('protocol v%s with --no-progress: keepalives keep the connection alive', async (version) => {
    slow();
    const dir = path.join(tmpDir(), 'c');
    const r = await git(['-c', `protocol.version=${version}`, ...IDLE_LIMIT, 'clone', '--no-progress', '--no-checkout', url, dir], { env: { GIT_TRACE_PACKET: '1' } });
    expect(r.stderr).not.toMatch(/Enumerating/);
    expect(r.code).toBe(0);
    // keepalives: empty band-1 packets, as git traces them
    expect((r.stderr.match(/sideband< \\1$/gm) ?? []).length).toBeGreaterThanOrEqual(4);
    expect((await git(['rev-list', '--count', 'main'], { cwd: dir })).stdout.trim()).toBe('30');
  });
});
