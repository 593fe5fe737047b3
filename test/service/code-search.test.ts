// Code search engine details that HTTP tests cannot pin down: the time budget and path globs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeSearch, globMatcher } from '../../src/service/content/code-search.js';
import { serviceEnv, type ServiceEnv } from './helpers.js';

describe('code search engine', () => {
  let env: ServiceEnv;
  beforeAll(() => {
    env = serviceEnv('memory');
  });
  afterAll(async () => {
    await env.close();
  });

  it('stops at the time budget and says so', async () => {
    const { repo } = await env.repo({ 'a.txt': 'needle\n', 'b.txt': 'needle\n' });
    const spent = await codeSearch(repo, { query: 'needle', timeBudgetMs: -1 });
    expect(spent).toMatchObject({ results: [], truncated: true });
    const full = await codeSearch(repo, { query: 'needle' });
    expect(full.truncated).toBe(false);
    expect(full.results.map((r) => r.filename)).toEqual(['a.txt', 'b.txt']);
  });

  it('globs: * stays in a directory, ** crosses them, a bare name matches in any directory', () => {
    expect(globMatcher('src/*.ts')('src/a.ts')).toBe(true);
    expect(globMatcher('src/*.ts')('src/x/a.ts')).toBe(false);
    expect(globMatcher('src/**/*.ts')('src/a.ts')).toBe(true);
    expect(globMatcher('src/**/*.ts')('src/x/y/a.ts')).toBe(true);
    expect(globMatcher('*.md')('docs/deep/a.md')).toBe(true);
    expect(globMatcher('a?c')('abc')).toBe(true);
    expect(globMatcher('a?c')('a/c')).toBe(false);
    expect(globMatcher('a.c')('abc')).toBe(false); // literal dot
  });
});
