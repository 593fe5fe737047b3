// OpenAPI entries for the agent workflow's read side and refs: branches and tags, compare,
// code search (JSON or SSE), the search agent and the index status. Spread into openapi.ts
// (helpers from openapi-helpers.ts). Request bodies and query parameters are generated there
// from the routes' zod schemas: here only their prose.
import { jsonResponse as json, nullable, obj, ref, str, type Schema } from './openapi-helpers.js';

const errs = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: 'Error (see error.code)', content: { 'application/json': { schema: ref('Error') } } }]));
const repoId = { name: 'id', in: 'path', required: true, description: 'Repository id or unique name', schema: str() };

const identity = obj({ name: str(), email: str(), date: str(undefined, { format: 'date-time' }) });
const searchDocs: Record<string, string> = {
  query: 'Literal text, or an RE2 regular expression with regex: true',
  regex: 'RE2 syntax (linear time: no backreferences or lookaround; default false)',
  case_sensitive: 'Default false',
  path_glob: '* within a directory, ** across directories, ? one character; a glob without / matches file names in any directory',
  branch: 'Branch to search (default HEAD)',
  hash: 'Commit to search (full id)',
  max_results: 'Default 50',
  context_lines: 'Lines before and after each match (default 2)',
};

/** Prose for the generated request components (see requestDocs in openapi.ts). */
export const agentRequestDocs: Record<string, Record<string, string>> = {
  RefCreate: { ref: 'refs/heads/<name> or refs/tags/<name>', commit: 'A commit id, branch, tag or full ref name' },
  SearchRequest: searchDocs,
  AgentRequest: {
    agent_name: 'relace-search (or search); anything else is 400',
    agent_inputs: 'The fields of SearchRequest, each as a string or its JSON type',
    continue: 'Accepted and ignored',
    overrides: 'Accepted and ignored',
  },
};

/** Prose for the generated query parameters, by operation (see queryDocs in openapi.ts). */
export const agentQueryDocs: Record<string, Record<string, string>> = {
  'GET /v1/repo/{id}/refs': { prefix: 'Only refs whose full name starts with this (refs/heads/agent/)' },
  'GET /v1/repo/{id}/compare/{spec}': {
    format: 'patch (or diff): plain text, byte for byte `git diff -M100% BASE...HEAD`',
    name_only: 'Paths only: files without counts and patches (JSON), or `git diff --name-only` (text)',
  },
  'GET /v1/repo/{id}/embedding_status': { branch: 'Branch whose commit to describe (default HEAD)', hash: 'Commit to describe (wins over branch)' },
};

export const agentSchemas: Record<string, Schema> = {
  RefItem: obj(
    {
      ref: str('Full ref name'),
      type: str(undefined, { enum: ['branch', 'tag'] }),
      object: str('What the ref stores (an annotated tag object for such tags)'),
      commit: nullable(str('The commit it peels to')),
    },
    ['ref', 'type', 'object', 'commit'],
  ),
  RefList: obj({ items: { type: 'array', items: ref('RefItem') }, total_items: { type: 'integer' }, next_page: nullable({ type: 'integer' }) }, ['items', 'total_items']),
  CompareCommit: obj(
    {
      sha: str(),
      commit: obj({ message: str(), tree: obj({ sha: str() }), author: nullable(identity), committer: nullable(identity) }),
      parents: { type: 'array', items: obj({ sha: str() }) },
    },
    ['sha', 'commit', 'parents'],
  ),
  Comparison: obj(
    {
      status: str(undefined, { enum: ['identical', 'ahead', 'behind', 'diverged'] }),
      ahead_by: { type: 'integer' },
      behind_by: { type: 'integer' },
      total_commits: { type: 'integer' },
      base_commit: ref('CompareCommit'),
      merge_base_commit: ref('CompareCommit'),
      commits: { type: 'array', items: ref('CompareCommit'), maxItems: 250, description: 'git log base..head, oldest first (the last 250)' },
      files: {
        type: 'array',
        items: obj(
          {
            filename: str(),
            status: str(undefined, { enum: ['added', 'removed', 'modified', 'renamed', 'changed'] }),
            additions: { type: 'integer' },
            deletions: { type: 'integer' },
            changes: { type: 'integer' },
            patch: str('The hunks, as git diff prints them (absent for binary files and changes without hunks)'),
            previous_filename: str('For renames'),
          },
          ['filename', 'status'],
        ),
      },
    },
    ['status', 'ahead_by', 'behind_by', 'total_commits', 'merge_base_commit', 'commits', 'files'],
  ),
  SearchResult: obj(
    {
      filename: str(),
      score: { type: 'number', description: 'Above 1: the file holds the literal text (or a regex match); 1 + its BM25 score. Otherwise its BM25 score (0..1]' },
      matches: {
        type: 'array',
        items: obj({ line_number: { type: 'integer' }, line: str(), before: { type: 'array', items: str() }, after: { type: 'array', items: str() } }, ['line_number', 'line', 'before', 'after']),
      },
    },
    ['filename', 'score', 'matches'],
  ),
  SearchResponse: obj({ hash: str('The commit searched'), results: { type: 'array', items: ref('SearchResult') }, truncated: { type: 'boolean', description: 'The time budget ran out' } }, ['hash', 'results', 'truncated']),
  EmbeddingStatus: obj({ completed_embeddings: { type: 'integer', description: 'Files in the lexical index of the commit' }, pending_embeddings: { type: 'integer', const: 0 }, hash: str() }, [
    'completed_embeddings',
    'pending_embeddings',
    'hash',
  ]),
};

const sse = {
  description: 'Server-Sent Events: `event: result` with a SearchResult per file, best first, then `event: done` with {hash, total, truncated}',
  content: { 'text/event-stream': { schema: str() } },
};

export const agentPaths: Record<string, Record<string, unknown>> = {
  '/v1/repo/{id}/refs': {
    get: {
      tags: ['repos'],
      summary: 'Branches and tags with their commits (read)',
      parameters: [repoId],
      responses: { 200: json('A page, in git order', ref('RefList')), ...errs(400, 401, 404) },
    },
    post: {
      tags: ['repos'],
      summary: 'Create a branch or lightweight tag (write; the push rules apply)',
      description: 'The ref must be in the token\'s ref scope and, if protected, the token an admin. 409 REF_EXISTS when it exists (compare-and-swap under the repository lock). Audited as ref.update.',
      parameters: [repoId],
      requestBody: { required: true, content: { 'application/json': { schema: ref('RefCreate') } } },
      responses: { 201: json('Created', ref('RefItem')), ...errs(400, 401, 403, 404, 409, 423) },
    },
  },
  '/v1/repo/{id}/refs/{ref}': {
    delete: {
      tags: ['repos'],
      summary: 'Delete a branch or tag (write, allow_delete; the push rules apply)',
      description: 'The path is heads/<name> or tags/<name> (GitHub\'s form), or a full ref name. HEAD\'s branch cannot be deleted (409).',
      parameters: [repoId, { name: 'ref', in: 'path', required: true, schema: str() }],
      responses: { 204: { description: 'Deleted' }, ...errs(400, 401, 403, 404, 409, 423) },
    },
  },
  '/v1/repo/{id}/compare/{spec}': {
    get: {
      tags: ['content'],
      summary: 'Compare BASE...HEAD like GitHub; the diff is what `git diff -M100% BASE...HEAD` prints (read)',
      parameters: [
        repoId,
        { name: 'spec', in: 'path', required: true, description: 'BASE...HEAD: commit ids, branches, tags or full ref names (slashes allowed)', schema: str() },
      ],
      responses: { 200: { description: 'The comparison', content: { 'application/json': { schema: ref('Comparison') }, 'text/plain': { schema: str() } } }, ...errs(400, 401, 404) },
    },
  },
  '/v1/repo/{id}/search': {
    post: {
      tags: ['content'],
      summary: 'Code search over one commit: matching lines with context, files best first (read)',
      parameters: [repoId],
      requestBody: { required: true, content: { 'application/json': { schema: ref('SearchRequest') } } },
      responses: { 200: { description: 'Results (SSE with Accept: text/event-stream)', content: { 'application/json': { schema: ref('SearchResponse') }, ...sse.content } }, ...errs(400, 401, 404) },
    },
  },
  '/v1/repo/{id}/agent': {
    post: {
      tags: ['content'],
      summary: "The SDK's agent call: relace-search runs code search and streams it (read)",
      parameters: [repoId],
      requestBody: { required: true, content: { 'application/json': { schema: ref('AgentRequest') } } },
      responses: { 200: sse, ...errs(400, 401, 404) },
    },
  },
  '/v1/repo/{id}/embedding_status': {
    get: {
      tags: ['content'],
      summary: 'Status of the lexical index of a commit (always complete: built on demand)',
      parameters: [repoId],
      responses: { 200: json('Index status', ref('EmbeddingStatus')), ...errs(400, 401, 404) },
    },
  },
};
