// MCP with the SDK's own client, over Streamable HTTP (/mcp on the server) and over stdio
// (`gitgate mcp`, spawned from the built CLI, relaying to the same server). Attacker first: a
// ref-scoped agent token writing main, reaching another repository, merging into a protected
// main, minting something wider than itself; then the loop that is allowed.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitOk } from '../helpers/git.js';
import { BIN } from '../helpers/serve.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TOOLS = ['compare', 'create_repo', 'delete_files', 'fork_repo', 'list_refs', 'list_repos', 'list_tree', 'merge', 'mint_token', 'read_file', 'search', 'write_files'];

interface Called {
  isError: boolean;
  json: any;
  text: string;
}

let s: TestServer;
let repo: string;
let other: string;
let agentToken: string;
let leadToken: string;
const open: Client[] = [];

beforeAll(async () => {
  s = await startTestServer('fs');
  repo = await s.createRepo({ name: 'task', source: { type: 'files', files: [{ filename: 'src/app.ts', content: 'export const app = 1;\n' }, { filename: 'README.md', content: '# task\n' }] } });
  other = await s.createRepo({ name: 'secret-repo', source: { type: 'files', files: [{ filename: 'secret.txt', content: 'classified\n' }] } });
  await s.api.put(`/v1/repo/${repo}/protected_refs`).set('Authorization', `Bearer ${s.admin}`).send({ patterns: ['refs/heads/main'] });
  agentToken = (await s.mint({ repo_ids: [repo], permission: 'write', refs: ['refs/heads/agent/*'], ttl_seconds: 3600, name: 'agent' })).token;
  // a repository admin confined to agent/* (it may mint, but only inside that)
  leadToken = (await s.mint({ repo_ids: [repo], permission: 'admin', refs: ['refs/heads/agent/*'], ttl_seconds: 3600, name: 'lead' })).token;
});
afterAll(async () => {
  for (const c of open) await c.close().catch(() => undefined);
  await s.close();
});

const TRANSPORTS: Record<string, (token: string) => Transport> = {
  http: (token) => new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
  stdio: (token) =>
    new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--server', s.url], env: { PATH: process.env.PATH ?? '', GITGATE_TOKEN: token }, stderr: 'pipe' }),
};

async function connect(kind: string, token: string): Promise<Client> {
  const client = new Client({ name: 'gitgate-test', version: '1' });
  await client.connect(TRANSPORTS[kind]!(token));
  open.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Called> {
  const res = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: { type: string; text: string }[] };
  const text = res.content.map((c) => c.text).join('');
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // plain text (a patch)
  }
  return { isError: res.isError === true, json, text };
}

const mainHead = async () => (await gitOk(['--git-dir', await s.bareRepo(repo), 'rev-parse', 'refs/heads/main'])).trim();

describe('MCP over Streamable HTTP: authentication', () => {
  it('refuses a request without a valid token with 401 (before reading the body), and GET with 405', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
    for (const auth of [undefined, 'Bearer ggw_not_a_token']) {
      let req = s.api.post('/mcp').set('Accept', 'application/json, text/event-stream');
      if (auth) req = req.set('Authorization', auth);
      const res = await req.send(init);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="gitgate"');
    }
    const get = await s.api.get('/mcp').set('Authorization', `Bearer ${s.admin}`);
    expect(get.status).toBe(405);
    await expect(connect('http', 'ggr_bad')).rejects.toThrow(/UNAUTHENTICATED/);
  });
});

describe.each(['http', 'stdio'])('MCP over %s', (kind) => {
  let admin: Client;
  let agent: Client;
  beforeAll(async () => {
    admin = await connect(kind, s.admin);
    agent = await connect(kind, agentToken);
  });

  it('offers the tools and the file resource template', async () => {
    expect((await agent.listTools()).tools.map((t) => t.name).sort()).toEqual(TOOLS);
    const templates = (await agent.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    expect(templates).toEqual(['gitgate://repo/{repo_id}/file/{+path}{?ref}', 'gitgate://repo/{repo_id}/file/{+path}']);
    expect((await agent.readResource({ uri: `gitgate://repo/${repo}/file/src/app.ts` })).contents[0]).toMatchObject({ text: expect.stringContaining('export const app') });
  });

  it('refuses an agent write outside its ref scope and changes nothing', async () => {
    const before = await mainHead();
    for (const args of [{}, { branch: 'main' }, { branch: 'feature/x' }]) {
      const r = await call(agent, 'write_files', { repo_id: repo, files: [{ path: 'src/app.ts', content: 'hacked\n' }], ...args });
      expect(r.isError, JSON.stringify(args)).toBe(true);
      expect(r.json.error).toMatchObject({ code: 'FORBIDDEN', status: 403 });
      expect(r.json.error.message).toContain('refs/heads/agent/*');
    }
    const del = await call(agent, 'delete_files', { repo_id: repo, paths: ['README.md'] });
    expect(del.json.error.code).toBe('FORBIDDEN');
    expect(await mainHead()).toBe(before);
    expect((await call(agent, 'list_refs', { repo_id: repo })).json.items.map((i: { ref: string }) => i.ref)).toEqual(['refs/heads/main']);
  });

  it('a repo token does not see other repositories', async () => {
    const listed = await call(agent, 'list_repos', {});
    expect(listed.json.items.map((r: { repo_id: string }) => r.repo_id)).toEqual([repo]);
    for (const [tool, args] of [
      ['read_file', { repo_id: other, path: 'secret.txt' }],
      ['read_file', { repo_id: 'secret-repo', path: 'secret.txt' }],
      ['list_tree', { repo_id: other }],
      ['search', { repo_id: other, query: 'classified' }],
      ['list_refs', { repo_id: other }],
      ['compare', { repo_id: other, base: 'main', head: 'main' }],
    ] as const) {
      const r = await call(agent, tool, args);
      expect(r.isError, tool).toBe(true);
      expect(r.json.error.code, tool).toBe('REPO_NOT_FOUND');
      expect(r.text).not.toContain('classified');
    }
    const fork = await call(agent, 'fork_repo', { repo_id: repo });
    expect(fork.json.error.code).toBe('CONTROL_PLANE_ONLY');
    await expect(agent.readResource({ uri: `gitgate://repo/${other}/file/secret.txt` })).rejects.toThrow(/REPO_NOT_FOUND/);
  });

  it('refuses minting anything wider than the caller, mints narrower short-lived tokens', async () => {
    expect((await call(agent, 'mint_token', { permission: 'read' })).json.error.code).toBe('ATTENUATION'); // only admin tokens mint
    const lead = await connect(kind, leadToken);
    for (const [args, code] of [
      [{ repo_ids: [repo], permission: 'admin', ttl_seconds: 3600 * 2 }, 'ATTENUATION'],
      [{ refs: [] }, 'ATTENUATION'],
      [{ refs: ['refs/heads/*'] }, 'ATTENUATION'],
      [{ allow_delete: true }, 'ATTENUATION'],
      [{ repo_ids: [other] }, 'REPO_NOT_FOUND'],
    ] as const) {
      const r = await call(lead, 'mint_token', { ...args });
      expect(r.isError, JSON.stringify(args)).toBe(true);
      expect(r.json.error.code, JSON.stringify(args)).toBe(code);
    }
    const tooLong = await call(lead, 'mint_token', { ttl_seconds: 7 * 24 * 3600 });
    expect(tooLong.isError).toBe(true);
    const minted = await call(lead, 'mint_token', { permission: 'read', ttl_seconds: 600, name: 'reviewer' });
    expect(minted.isError, minted.text).toBe(false);
    expect(minted.json).toMatchObject({ repo_ids: [repo], permission: 'read', refs: ['refs/heads/agent/*'] });
    expect(Date.parse(minted.json.expires_at) - Date.now()).toBeLessThanOrEqual(600_000);
    const reviewer = await connect('http', minted.json.token);
    const read = await call(reviewer, 'read_file', { repo_id: repo, path: 'src/app.ts' });
    expect(read.json.content, read.text).toMatch(/^export const app = /);
    expect((await call(reviewer, 'write_files', { repo_id: repo, branch: 'agent/r', files: [{ path: 'x', content: 'x' }] })).json.error.code).toBe('FORBIDDEN');
  });

  it('does a whole task: branch writes with expected_head, search, compare, and an admin merge into protected main', async () => {
    const branch = `agent/${kind}`;
    const w1 = await call(agent, 'write_files', { repo_id: repo, branch, files: [{ path: `src/${kind}.ts`, content: `export const ${kind}Feature = "on";\n` }] });
    expect(w1.isError, w1.text).toBe(false);
    expect(w1.json).toMatchObject({ branch, changed_files: [`src/${kind}.ts`] });
    const w2 = await call(agent, 'write_files', {
      repo_id: repo,
      branch,
      expected_head: w1.json.repo_head,
      files: [{ path: 'src/app.ts', content: `export const app = '${kind}';\n` }],
      delete: kind === 'http' ? ['README.md'] : [],
    });
    expect(w2.json.changed_files).toEqual(kind === 'http' ? ['README.md', 'src/app.ts'] : ['src/app.ts']);
    const stale = await call(agent, 'write_files', { repo_id: repo, branch, expected_head: w1.json.repo_head, files: [{ path: 'y', content: 'y' }] });
    expect(stale.json.error.code).toBe('STALE_REF');

    expect((await call(agent, 'read_file', { repo_id: repo, path: 'src/app.ts', branch })).json.content).toBe(`export const app = '${kind}';\n`);
    const tree = await call(agent, 'list_tree', { repo_id: repo, branch });
    expect(tree.json.entries.map((e: { path: string; type: string }) => `${e.type} ${e.path}`)).toEqual(['tree src']);
    const deep = await call(agent, 'list_tree', { repo_id: repo, branch, path: 'src', recursive: true });
    expect(deep.json.entries.map((e: { path: string }) => e.path)).toEqual(kind === 'http' ? ['src/app.ts', 'src/http.ts'] : ['src/app.ts', 'src/http.ts', 'src/stdio.ts']);
    const found = await call(agent, 'search', { repo_id: repo, query: `${kind}Feature`, branch });
    expect(found.json.results[0].filename).toBe(`src/${kind}.ts`);
    const res = await agent.readResource({ uri: `gitgate://repo/${repo}/file/src/${kind}.ts?ref=${encodeURIComponent(branch)}` });
    expect(res.contents[0]).toMatchObject({ text: `export const ${kind}Feature = "on";\n` });

    const cmp = await call(agent, 'compare', { repo_id: repo, base: 'main', head: branch });
    expect(cmp.json).toMatchObject({ ahead_by: 2, behind_by: 0 });
    expect(cmp.json.files.map((f: { filename: string; status: string }) => `${f.status} ${f.filename}`)).toEqual(
      kind === 'http' ? ['removed README.md', 'modified src/app.ts', 'added src/http.ts'] : ['modified src/app.ts', 'added src/stdio.ts'],
    );
    const patch = await call(agent, 'compare', { repo_id: repo, base: 'main', head: branch, format: 'patch' });
    expect(patch.text).toContain(`+export const app = '${kind}';`);

    const refused = await call(agent, 'merge', { repo_id: repo, base: 'main', head: branch });
    expect(refused.json.error.code).toBe('FORBIDDEN');
    const merged = await call(admin, 'merge', { repo_id: repo, base: 'main', head: branch, method: 'squash', message: `task over ${kind}`, delete_head: true });
    expect(merged.isError, merged.text).toBe(false);
    expect(merged.json).toMatchObject({ branch: 'main', method: 'squash', head_deleted: true });
    expect(await mainHead()).toBe(merged.json.repo_head);
    const bare = await s.bareRepo(repo);
    expect((await gitOk(['--git-dir', bare, 'log', '-1', '--format=%s', 'main'])).trim()).toBe(`task over ${kind}`);
    await s.fsck(repo);
  });

  it('an admin lists, creates and forks repositories', async () => {
    const created = await call(admin, 'create_repo', { name: `made-over-${kind}`, files: [{ filename: 'a.txt', content: 'a\n' }] });
    expect(created.isError, created.text).toBe(false);
    const fork = await call(admin, 'fork_repo', { repo_id: created.json.repo_id, name: `fork-over-${kind}` });
    expect(fork.json.repo_head).toBe(created.json.repo_head);
    const names = (await call(admin, 'list_repos', { page_size: 1000 })).json.items.map((r: { name: string }) => r.name);
    expect(names).toEqual(expect.arrayContaining([`made-over-${kind}`, `fork-over-${kind}`, 'task', 'secret-repo']));
    await s.fsck(fork.json.repo_id);
  });
});

describe('gitgate mcp (stdio) without a usable token', () => {
  it('a revoked token gets the 401 back as an error, not a hang', async () => {
    const t = await s.mint({ repo_ids: [repo], permission: 'read', name: 'short' });
    const client = await connect('stdio', t.token);
    expect((await call(client, 'list_repos', {})).isError).toBe(false);
    await s.api.delete(`/v1/repo_token/${t.id}`).set('Authorization', `Bearer ${s.admin}`);
    await expect(client.callTool({ name: 'list_repos', arguments: {} })).rejects.toThrow(/UNAUTHENTICATED/);
  });
});
