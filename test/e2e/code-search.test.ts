// Code search for agents: POST /v1/repo/:id/search (JSON or SSE), the SDK's search and agent
// calls (POST /v1/repo/:id/agent, SSE), and embedding_status — over real HTTP and the SDK.
import Relace from '@relace-ai/relace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGE_KINDS, startTestServer, type TestServer } from '../helpers/server.js';

const FILES = [
  { filename: 'src/auth/tokenService.ts', content: 'export class TokenService {\n  verify(secret: string) {\n    // TODO: constant time\n    return hash(secret) === this.stored;\n  }\n}\n' },
  { filename: 'src/auth/login.ts', content: 'import { TokenService } from "./tokenService";\n\nexport function login(x: string) {\n  return new TokenService().verify(x);\n}\n' },
  { filename: 'src/db/pool.ts', content: 'export const pool = createPool({ max: 10 });\n// todo: tune the pool\n' },
  { filename: 'docs/tokens.md', content: 'How tokens work: a token service verifies secrets.\n' },
  { filename: 'README.md', content: 'Nothing about the query here.\n' },
];

interface Match {
  line_number: number;
  line: string;
  before: string[];
  after: string[];
}
interface FileResult {
  filename: string;
  score: number;
  matches: Match[];
}

describe.each(STORAGE_KINDS)('code search (%s storage)', (kind) => {
  let s: TestServer;
  let id: string;
  let head: string;
  let client: Relace;
  beforeAll(async () => {
    s = await startTestServer(kind);
    const res = await s.api.post('/v1/repo').set('Authorization', `Bearer ${s.admin}`).send({ source: { type: 'files', files: FILES } });
    id = res.body.repo_id;
    head = res.body.repo_head;
    client = new Relace({ apiKey: s.admin, baseURL: `${s.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await s.close();
  });

  const search = (body: object, secret = s.admin) => s.api.post(`/v1/repo/${id}/search`).set('Authorization', `Bearer ${secret}`).send(body);

  it('literal search: files with the exact text first (BM25 order), with line numbers and context; then files sharing its terms', async () => {
    const res = await search({ query: 'TokenService', context_lines: 1 });
    expect(res.status).toBe(200);
    expect(res.body.hash).toBe(head);
    expect(res.body.truncated).toBe(false);
    const results = res.body.results as FileResult[];
    expect(results.map((r) => r.filename)).toEqual(['src/auth/tokenService.ts', 'src/auth/login.ts', 'docs/tokens.md']);
    expect(results[0]!.score).toBeGreaterThan(1);
    expect(results[1]!.score).toBeGreaterThan(1);
    expect(results[2]!.score).toBeLessThanOrEqual(1); // no exact match: BM25 alone
    expect(results[0]!.matches).toEqual([{ line_number: 1, line: 'export class TokenService {', before: [], after: ['  verify(secret: string) {'] }]);
    expect(results[1]!.matches.map((m) => m.line_number)).toEqual([1, 4]);
    expect(results[1]!.matches[1]).toEqual({ line_number: 4, line: '  return new TokenService().verify(x);', before: ['export function login(x: string) {'], after: ['}'] });
    expect(results[2]!.matches).toEqual([{ line_number: 1, line: 'How tokens work: a token service verifies secrets.', before: [], after: [] }]);
  });

  it('case sensitivity, regular expressions (RE2), path globs and max_results', async () => {
    const insensitive = (await search({ query: 'todo' })).body.results as FileResult[];
    expect(insensitive.map((r) => r.filename).sort()).toEqual(['src/auth/tokenService.ts', 'src/db/pool.ts']);
    const sensitive = (await search({ query: 'todo', case_sensitive: true })).body.results as FileResult[];
    expect(sensitive.map((r) => r.filename)).toEqual(['src/db/pool.ts']);

    const re = (await search({ query: 'return\\s+(hash|new)\\b', regex: true, context_lines: 0 })).body.results as FileResult[];
    expect(re.map((r) => [r.filename, r.matches.map((m) => m.line_number)])).toEqual(
      expect.arrayContaining([
        ['src/auth/tokenService.ts', [4]],
        ['src/auth/login.ts', [4]],
      ]),
    );
    expect(re).toHaveLength(2); // a regex query returns only real matches

    const globbed = (await search({ query: 'token', path_glob: 'src/**/*.ts' })).body.results as FileResult[];
    expect(globbed.length).toBeGreaterThan(0);
    expect(globbed.every((r) => r.filename.startsWith('src/') && r.filename.endsWith('.ts'))).toBe(true);
    const byName = (await search({ query: 'token', path_glob: '*.md' })).body.results as FileResult[];
    expect(byName.map((r) => r.filename)).toEqual(['docs/tokens.md']);
    expect(((await search({ query: 'token', max_results: 1 })).body.results as FileResult[]).length).toBe(1);
  });

  it('a pattern that backtracking engines choke on runs in linear time; bad input is a clear 400', async () => {
    const evil = await s.api.post('/v1/repo').set('Authorization', `Bearer ${s.admin}`).send({ source: { type: 'files', files: [{ filename: 'a.txt', content: `${'a'.repeat(50_000)}!\n` }] } });
    const res = await s.api.post(`/v1/repo/${evil.body.repo_id}/search`).set('Authorization', `Bearer ${s.admin}`).send({ query: '(a+)+$', regex: true, context_lines: 0 });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([]);
    for (const [body, detail] of [
      [{ query: 'a(b', regex: true }, 'not a valid RE2 regular expression'],
      [{ query: '(?<=a)b', regex: true }, 'not a valid RE2 regular expression'],
      [{ query: '' }, 'query'],
      [{ query: 'x', max_results: 0 }, 'max_results'],
      [{ query: 'x', context_lines: 1000 }, 'context_lines'],
      [{ query: 'x', branch: 'nope' }, 'Branch not found'],
    ] as const) {
      const r = await search(body);
      expect(r.status === 400 || r.status === 404, JSON.stringify(body)).toBe(true);
      expect(r.body.error.message).toContain(detail);
    }
    const other = await s.mint({ repo_ids: [evil.body.repo_id], permission: 'read' });
    expect((await search({ query: 'x' }, other.token)).status).toBe(404);
  });

  it('streams Server-Sent Events for Accept: text/event-stream: one result event per file, then done', async () => {
    const res = await fetch(`${s.url}/v1/repo/${id}/search`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${s.admin}`, 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'TokenService' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events.map((e) => e.split('\n')[0])).toEqual(['event: result', 'event: result', 'event: result', 'event: done']);
    expect(events.every((e) => /^event: \w+\ndata: [^\n]+$/.test(e))).toBe(true);
    expect(JSON.parse(events[0]!.split('\ndata: ')[1]!).filename).toBe('src/auth/tokenService.ts');
    expect(JSON.parse(events[3]!.split('\ndata: ')[1]!)).toEqual({ hash: head, total: 3, truncated: false });
  });

  it('the SDK: repo.search and repo.agent read the stream, embeddingStatus answers for the lexical index', async () => {
    const got: { event?: string | null; data: unknown }[] = [];
    for await (const ev of await client.repo.search(id, { query: 'verify' })) got.push(ev);
    expect(got.map((e) => e.event)).toEqual([...got.slice(0, -1).map(() => 'result'), 'done']);
    expect((got[0]!.data as FileResult).filename).toBe('src/auth/tokenService.ts');
    expect((got.at(-1)!.data as { total: number }).total).toBe(got.length - 1);

    const viaAgent: unknown[] = [];
    const stream = await client.repo.agent(id, { agent_name: 'relace-search', agent_inputs: { query: 'pool', path_glob: 'src/**' } });
    for await (const ev of stream) viaAgent.push(ev);
    expect(viaAgent).toEqual([
      { event: 'result', data: expect.objectContaining({ filename: 'src/db/pool.ts' }) },
      { event: 'done', data: { hash: head, total: 1, truncated: false } },
    ]);

    await expect(client.repo.agent(id, { agent_name: 'code_review', agent_inputs: { prompt: 'x' } })).rejects.toMatchObject({ status: 400 });
    const raw = await s.api.post(`/v1/repo/${id}/agent`).set('Authorization', `Bearer ${s.admin}`).send({ agent_name: 'code_review', agent_inputs: {} });
    expect(raw.body.error.message).toContain('unknown agent_name "code_review"');

    expect(await client.repo.embeddingStatus(id)).toEqual({ completed_embeddings: FILES.length, pending_embeddings: 0, hash: head });
    const empty = await s.createRepo();
    expect(await client.repo.embeddingStatus(empty)).toEqual({ completed_embeddings: 0, pending_embeddings: 0, hash: '' });
  });
});
