// The MCP server one token talks to: tools and file resources over the same service calls as
// the REST routes, with the same rules (http/auth.ts resolveRepo for repository access and
// permission, http/actions.ts for creating, forking, writing, merging and minting). One
// instance per request (the HTTP transport is stateless), bound to the authenticated token.
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { TokenRecord } from '../../auth/token-record.js';
import { GitgateError } from '../../errors.js';
import { OID_ANY_CASE_PATTERN } from '../../oid.js';
import { isTreeMode } from '../../repo/objects/tree.js';
import { compare, comparePatch } from '../../service/compare/compare.js';
import { wantPolicy } from '../../service/content/branch.js';
import { codeSearch, MAX_CONTEXT_LINES, MAX_MAX_RESULTS } from '../../service/content/code-search.js';
import { contentPath } from '../../service/content/paths.js';
import { readFileAt } from '../../service/content/read.js';
import { commitTree, listFiles, lookupPath, readTree, resolveReadCommit } from '../../service/content/tree.js';
import type { Services } from '../../service/services.js';
import { listRefs } from '../../service/refs/ref-api.js';
import { createRepoAs, listReposAs, mergeAs, mintRepoTokenAs, writeContentAs } from '../actions.js';
import { resolveRepo } from '../auth.js';
import { oidSchema } from '../request-schemas.js';
import { toGitgateError } from '../errors.js';

/** Tokens minted through MCP are short-lived: at most a day (and never past the caller's expiry). */
export const MCP_MAX_TOKEN_TTL_SECONDS = 24 * 3600;

const repoId = z.string().min(1).max(200).describe('repository id or unique name');
const branch = z.string().min(1).max(1024).optional().describe("branch (short like agent/x, or refs/heads/…); default HEAD's");
const commit = oidSchema.optional().describe('a full commit id a ref reaches (instead of branch)');
const lease = {
  branch,
  base: z.string().min(1).max(1024).optional().describe('what a missing branch is created from (branch, tag or commit; default HEAD)'),
  expected_head: oidSchema.optional().describe('the commit the change is based on: refused with STALE_REF if the branch moved'),
};

function ok(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }] };
}

/** A refused or failed call is a tool error carrying the REST error's code and message. */
function failed(err: unknown, log: Logger): CallToolResult {
  const ge = toGitgateError(err);
  if (ge.status >= 500) log.error({ err }, 'MCP tool failed');
  const body = { error: { code: ge.code, status: ge.status, message: ge.message, ...(ge.details ?? {}) } };
  return { isError: true, content: [{ type: 'text', text: JSON.stringify(body) }] };
}

export function mcpServerFor(ctx: Services, tok: TokenRecord, log: Logger): McpServer {
  const server = new McpServer({ name: 'gitgate', version: '1' }, { capabilities: { tools: {}, resources: {} } });
  const tool = <S extends z.ZodRawShape>(name: string, description: string, shape: S, run: (args: z.infer<z.ZodObject<S>>) => Promise<unknown>) =>
    server.registerTool(name, { description, inputSchema: shape }, (async (args: z.infer<z.ZodObject<S>>) => {
      try {
        return ok(await run(args));
      } catch (err) {
        return failed(err, log);
      }
    }) as never);
  const readRow = (id: string, action: string) => resolveRepo(ctx, tok, id, 'read', action);

  tool('list_repos', 'List the repositories this token can read.', { page_size: z.number().int().min(1).max(1000).optional(), page_start: z.number().int().min(0).optional() }, async (a) =>
    listReposAs(ctx, tok, a),
  );

  tool(
    'create_repo',
    'Create a repository, empty or with files (one initial commit on the default branch). Needs a workspace token with write.',
    { name: z.string().min(1).max(200).optional(), files: z.array(z.object({ filename: z.string(), content: z.string() })).max(10_000).optional() },
    async (a) => createRepoAs(ctx, tok, { name: a.name ?? null, source: a.files ? { type: 'files', files: a.files } : null }),
  );

  tool(
    'fork_repo',
    'Fork a repository: a new one with every ref of the source, sharing its packs. Needs a workspace token with write and read on the source.',
    { repo_id: repoId, name: z.string().min(1).max(200).optional(), copy_metadata: z.boolean().optional() },
    async (a) => createRepoAs(ctx, tok, { name: a.name ?? null, source: { type: 'relace', repo_id: a.repo_id, copy_metadata: a.copy_metadata } }),
  );

  tool('list_refs', 'List branches and tags with their commits.', { repo_id: repoId, prefix: z.string().max(1024).optional(), page_size: z.number().int().min(1).max(1000).optional(), page_start: z.number().int().min(0).optional() }, async (a) => {
    const row = await readRow(a.repo_id, 'listing refs');
    return listRefs(ctx.manager.get(row.id), a);
  });

  tool('read_file', "Read one file's text at a branch or commit.", { repo_id: repoId, path: z.string().min(1).max(4096), branch, commit }, async (a) => {
    const row = await readRow(a.repo_id, 'reading files');
    const { commit: at, content } = await readFileAt(ctx.manager.get(row.id), a.path, { branch: a.branch, commit: a.commit, reach: wantPolicy(ctx), maxBytes: ctx.config.maxReadBytes });
    return { commit: at, path: contentPath(a.path), content: content.toString('utf8') };
  });

  tool(
    'list_tree',
    'List a directory (default the root) at a branch or commit; recursive lists every file below it.',
    { repo_id: repoId, path: z.string().max(4096).optional(), recursive: z.boolean().optional(), branch, commit },
    async (a) => {
      const row = await readRow(a.repo_id, 'listing files');
      const repo = ctx.manager.get(row.id);
      const at = await resolveReadCommit(repo, { branch: a.branch, commit: a.commit, reach: wantPolicy(ctx) });
      if (!at) return { commit: null, entries: [] };
      let tree: string | null = await commitTree(repo, at);
      const dir = a.path ? contentPath(a.path) : '';
      if (dir) {
        const entry = await lookupPath(repo, tree, dir);
        if (!entry || !isTreeMode(entry.mode)) throw new GitgateError('FILE_NOT_FOUND', { path: dir });
        tree = entry.oid;
      }
      const prefix = dir ? `${dir}/` : '';
      if (a.recursive) return { commit: at, entries: (await listFiles(repo, tree, prefix)).map((e) => ({ path: e.path, mode: e.mode, oid: e.oid })) };
      const entries = (await readTree(repo, tree)).map((e) => ({
        path: `${prefix}${e.name}`,
        type: isTreeMode(e.mode) ? 'tree' : e.mode === '160000' ? 'commit' : 'blob',
        mode: e.mode,
        oid: e.oid,
      }));
      return { commit: at, entries };
    },
  );

  tool(
    'write_files',
    'Write (and optionally delete) files on a branch as one commit. A missing branch is created from base. Obeys the token ref scope and protected refs.',
    {
      repo_id: repoId,
      files: z.array(z.object({ path: z.string().min(1).max(4096), content: z.string() })).max(10_000),
      delete: z.array(z.string().min(1).max(4096)).max(10_000).optional(),
      ...lease,
    },
    async (a) => {
      const row = await resolveRepo(ctx, tok, a.repo_id, 'write', 'writing files');
      const operations = [
        ...(a.delete ?? []).map((filename) => ({ type: 'delete' as const, filename })),
        ...a.files.map((f) => ({ type: 'write' as const, filename: f.path, content: f.content })),
      ];
      return writeContentAs(ctx, tok, row, { kind: 'diff', operations }, a);
    },
  );

  tool('delete_files', 'Delete files or directories on a branch as one commit.', { repo_id: repoId, paths: z.array(z.string().min(1).max(4096)).min(1).max(10_000), ...lease }, async (a) => {
    const row = await resolveRepo(ctx, tok, a.repo_id, 'write', 'deleting files');
    return writeContentAs(ctx, tok, row, { kind: 'diff', operations: a.paths.map((filename) => ({ type: 'delete' as const, filename })) }, a);
  });

  tool(
    'search',
    'Search the text files of one commit (literal, or an RE2 regular expression); best files first, with matching lines and context.',
    {
      repo_id: repoId,
      query: z.string().min(1).max(10_000),
      regex: z.boolean().optional(),
      case_sensitive: z.boolean().optional(),
      path_glob: z.string().max(1024).optional(),
      branch,
      hash: commit,
      max_results: z.number().int().min(1).max(MAX_MAX_RESULTS).optional(),
      context_lines: z.number().int().min(0).max(MAX_CONTEXT_LINES).optional(),
    },
    async (a) => {
      const row = await readRow(a.repo_id, 'searching');
      return codeSearch(ctx.manager.get(row.id), { ...a, reach: wantPolicy(ctx) });
    },
  );

  tool(
    'compare',
    'Compare two commits (branch, tag or id) like GitHub: commits of base..head and the diff of base...head; format "patch" gives the text of git diff.',
    { repo_id: repoId, base: z.string().min(1).max(1024), head: z.string().min(1).max(1024), format: z.enum(['json', 'patch']).optional(), name_only: z.boolean().optional() },
    async (a) => {
      const row = await readRow(a.repo_id, 'comparing commits');
      const repo = ctx.manager.get(row.id);
      const opts = { nameOnly: a.name_only, reach: wantPolicy(ctx) };
      if (a.format === 'patch') return (await repo.track(() => comparePatch(repo, a.base, a.head, opts))).toString('utf8');
      return repo.track(() => compare(repo, a.base, a.head, opts));
    },
  );

  tool(
    'merge',
    'Merge head (branch, tag or commit) into the branch base: merge commit, squash or fast-forward. Protected bases need an admin token; conflicts change nothing.',
    {
      repo_id: repoId,
      base: z.string().min(1).max(1024),
      head: z.string().min(1).max(1024),
      method: z.enum(['merge', 'squash', 'fast-forward']).optional(),
      message: z.string().min(1).max(65536).optional(),
      delete_head: z.boolean().optional(),
      expected_head: lease.expected_head,
      expected_base: oidSchema.optional(),
    },
    async (a) => {
      const row = await resolveRepo(ctx, tok, a.repo_id, 'write', 'merging');
      const done = await mergeAs(ctx, tok, row, {
        base: a.base,
        head: a.head,
        method: a.method ?? 'merge',
        message: a.message,
        deleteHead: a.delete_head,
        expectedHead: a.expected_head,
        expectedBase: a.expected_base,
      });
      return done ?? { merged: false, reason: 'nothing to merge: base already contains head' };
    },
  );

  tool(
    'mint_token',
    `Mint a repository token no stronger than this one (permission, repositories, ref scope, expiry), living at most ${MCP_MAX_TOKEN_TTL_SECONDS} seconds. Returns its secret once.`,
    {
      repo_ids: z.array(repoId).min(1).max(1000).optional().describe("default: this token's repositories (required for a workspace token)"),
      permission: z.enum(['read', 'write', 'admin']).optional(),
      ttl_seconds: z.number().int().min(1).max(MCP_MAX_TOKEN_TTL_SECONDS).optional().describe('default 3600'),
      refs: z.array(z.string()).max(100).optional(),
      allow_force: z.boolean().optional(),
      allow_delete: z.boolean().optional(),
      name: z.string().max(200).optional(),
    },
    async (a) => {
      const repoIds = a.repo_ids ?? (tok.kind === 'repo' ? tok.repo_ids : null);
      if (!repoIds) throw new GitgateError('VALIDATION', { detail: 'repo_ids is required for a workspace token' });
      const { secret, record } = await mintRepoTokenAs(ctx, tok, { ...a, repo_ids: repoIds, ttl_seconds: a.ttl_seconds ?? 3600, name: a.name ?? 'mcp' });
      return { token: secret, id: record.id, repo_ids: record.repo_ids, permission: record.permission, refs: record.refs, expires_at: record.expires_at };
    },
  );

  // files at a ref: gitgate://repo/ID/file/PATH?ref=BRANCH-OR-COMMIT, or at HEAD without ?ref
  // (two templates: the SDK's matcher needs the query to be present when the template has one)
  const readFileResource = async (uri: URL, vars: Record<string, string | string[]>) => {
    const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
    try {
      const row = await readRow(decodeURIComponent(one(vars.repo_id) ?? ''), 'reading files');
      const ref = one(vars.ref) ? decodeURIComponent(one(vars.ref)!) : undefined;
      const sel = ref && OID_ANY_CASE_PATTERN.test(ref) ? { commit: ref } : { branch: ref };
      const { content } = await readFileAt(ctx.manager.get(row.id), decodeURIComponent(one(vars.path) ?? ''), { ...sel, reach: wantPolicy(ctx), maxBytes: ctx.config.maxReadBytes });
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: content.toString('utf8') }] };
    } catch (err) {
      const ge = toGitgateError(err);
      throw new Error(`${ge.code}: ${ge.message}`);
    }
  };
  server.registerResource(
    'file-at-ref',
    new ResourceTemplate('gitgate://repo/{repo_id}/file/{+path}{?ref}', { list: undefined }),
    { description: "A file's text at ?ref= (a branch, short or refs/heads/…, or a full commit id a ref reaches)", mimeType: 'text/plain' },
    readFileResource,
  );
  server.registerResource(
    'file',
    new ResourceTemplate('gitgate://repo/{repo_id}/file/{+path}', { list: undefined }),
    { description: "A file's text at HEAD's branch", mimeType: 'text/plain' },
    readFileResource,
  );
  return server;
}
