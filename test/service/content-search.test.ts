// Lexical retrieval: tokenizer, BM25 ranking with weighted paths, normalisation, thresholds,
// token budget, and the per-tree / per-blob caches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyContentChange } from '../../src/service/content/update.js';
import { clearSearchCaches, retrieve, searchStats, terms } from '../../src/service/content/search.js';
import { serviceEnv, type ServiceEnv } from './helpers.js';

describe('tokenizer', () => {
  it('splits identifiers on case, _, -, . and / and keeps whole identifiers', () => {
    expect(terms('getUserName')).toEqual(['get', 'user', 'name', 'getusername']);
    expect(terms('parse_http_request')).toEqual(['parse', 'http', 'request', 'parsehttprequest']);
    expect(terms('src/auth/token-service.ts')).toEqual(['src', 'auth', 'token', 'service', 'ts']);
    expect(terms('HTTPServer.listen')).toEqual(['http', 'server', 'httpserver', 'listen']);
    expect(terms('the handlers of THE class')).toEqual(['handler', 'class']); // stop words, plural
  });
});

describe('retrieve', () => {
  let env: ServiceEnv;
  beforeAll(() => {
    env = serviceEnv('memory');
  });
  afterAll(async () => {
    await env.close();
  });

  it('ranks by content and path, normalises scores, and honours score_threshold', async () => {
    const { repo, head } = await env.repo({
      'src/auth/tokenService.ts': 'export class TokenService { verify(secret) { return hash(secret); } }\n',
      'src/auth/login.ts': 'import { TokenService } from "./tokenService";\nexport function login() { new TokenService().verify(x); }\n',
      'src/db/pool.ts': 'export const pool = createPool({ max: 10 });\n',
      'docs/tokens.md': 'How tokens work: a token service issues them.\n',
      'image.png': '\u0000\u0001binary',
    });
    const r = await retrieve(repo, { query: 'TokenService', score_threshold: 0 });
    expect(r.hash).toBe(head);
    expect(r.pending_embeddings).toBe(0);
    expect(r.results[0]).toEqual({ filename: 'src/auth/tokenService.ts', score: 1 }); // the name is in its path
    const names = r.results.map((x) => x.filename);
    expect(names).toContain('src/auth/login.ts');
    expect(names).toContain('docs/tokens.md');
    expect(names).not.toContain('src/db/pool.ts');
    expect(names).not.toContain('image.png');
    for (const x of r.results) expect(x.score).toBeGreaterThan(0), expect(x.score).toBeLessThanOrEqual(1);
    expect([...r.results].sort((a, b) => b.score - a.score)).toEqual(r.results);

    const strict = await retrieve(repo, { query: 'TokenService', score_threshold: 0.99 });
    expect(strict.results.map((x) => x.filename)).toEqual(['src/auth/tokenService.ts']);
    expect((await retrieve(repo, { query: 'nothing matches zzzqqq' })).results).toEqual([]);
    // a path-only match
    expect((await retrieve(repo, { query: 'pool', score_threshold: 0 })).results[0]!.filename).toBe('src/db/pool.ts');
  });

  it('includes content within token_limit, best first, and stops at the first result that does not fit', async () => {
    const small = 'alpha beta\n'; // 11 chars: 3 tokens
    const big = `alpha ${'x'.repeat(400)}\n`; // ~102 tokens
    const { repo } = await env.repo({ 'alpha/one.txt': small, 'two.txt': big, 'three.txt': 'alpha\n' });
    const all = await retrieve(repo, { query: 'alpha', include_content: true, score_threshold: 0, token_limit: 10_000 });
    expect(all.results.map((x) => x.filename)).toEqual(['alpha/one.txt', 'three.txt', 'two.txt']);
    expect(all.results[0]!.content).toBe(small);
    const capped = await retrieve(repo, { query: 'alpha', include_content: true, score_threshold: 0, token_limit: 10 });
    expect(capped.results.map((x) => x.filename)).toEqual(['alpha/one.txt', 'three.txt']);
    const none = await retrieve(repo, { query: 'alpha', include_content: true, score_threshold: 0, token_limit: 1 });
    expect(none.results).toEqual([]);
    const noContent = await retrieve(repo, { query: 'alpha', score_threshold: 0, token_limit: 1 });
    expect(noContent.results).toHaveLength(3); // token_limit only bounds returned content
  });

  it('searches a given commit or branch, and an empty repository', async () => {
    const { id, repo, head } = await env.repo({ 'old.txt': 'ancient relic\n' });
    const row = (await env.ctx.repos.get(id))!;
    const next = await applyContentChange(env.ctx, row, { kind: 'files', files: [{ filename: 'new.txt', content: 'modern gadget\n' }] });
    expect((await retrieve(repo, { query: 'relic', score_threshold: 0 })).results).toEqual([]);
    const past = await retrieve(repo, { query: 'relic', hash: head, score_threshold: 0 });
    expect(past.hash).toBe(head);
    expect(past.results.map((x) => x.filename)).toEqual(['old.txt']);
    expect((await retrieve(repo, { query: 'gadget', branch: 'main' })).hash).toBe(next.repo_head);
    const empty = await env.repo();
    expect(await retrieve(empty.repo, { query: 'x' })).toEqual({ hash: '', pending_embeddings: 0, results: [] });
  });

  it('builds one index per tree for thousands of files and reuses blob terms across commits', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) files[`pkg${i % 30}/module${i}.ts`] = `export function handler${i}() { return compute${i % 97}(input${i}); }\n`;
    files['pkg0/needle.ts'] = 'export const findTheNeedle = () => haystack.search(needle);\n';
    const { id, repo } = await env.repo(files);
    clearSearchCaches();
    const builds = searchStats.indexBuilds;
    const reads = searchStats.blobReads;
    const first = await retrieve(repo, { query: 'needle haystack' });
    expect(first.results[0]!.filename).toBe('pkg0/needle.ts');
    expect(searchStats.indexBuilds).toBe(builds + 1);
    expect(searchStats.blobReads - reads).toBe(3001);
    for (let q = 0; q < 20; q++) await retrieve(repo, { query: `handler${q} compute${q}` });
    expect(searchStats.indexBuilds).toBe(builds + 1); // cached by tree
    // a commit changing one file: a new index, but only the changed blob is read again
    await applyContentChange(env.ctx, (await env.ctx.repos.get(id))!, { kind: 'write', path: 'pkg1/fresh.ts', content: Buffer.from('const freshlyAdded = 1;\n') });
    const after = searchStats.blobReads;
    const fresh = await retrieve(repo, { query: 'freshlyAdded' });
    expect(fresh.results[0]!.filename).toBe('pkg1/fresh.ts');
    expect(searchStats.indexBuilds).toBe(builds + 2);
    expect(searchStats.blobReads - after).toBe(1);
  });
});
