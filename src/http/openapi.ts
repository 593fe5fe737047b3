// The OpenAPI 3.1 description of gitgate's HTTP surface, served at GET /v1/openapi.json.
// test/e2e/openapi.test.ts walks the Express router and fails when a route is missing here or
// a documented path+method has no route, so this document cannot drift from the code.
// What clients send is not written here: the JSON request bodies and the query parameters are
// generated from the zod schemas the routes validate with (request-schemas.ts); this file adds
// only prose (requestDocs, queryDocs), never shapes or limits.
import type { RequestHandler } from 'express';
import { AUDIT_ACTIONS } from '../audit/audit-log.js';
import { ERRORS } from '../errors.js';
import { agentPaths, agentQueryDocs, agentRequestDocs, agentSchemas } from './openapi-agent.js';
import { eventPaths, eventQueryDocs, eventRequestDocs, eventSchemas } from './openapi-events.js';
import { jsonResponse, nullable, obj, ref, str, type Schema } from './openapi-helpers.js';
import { REQUEST_BODIES, REQUEST_QUERIES, requestJsonSchema } from './request-schemas.js';

const jsonBody = (schema: Schema, required = true) => ({ required, content: { 'application/json': { schema } } });
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });

const ERR = {
  400: errorResponse('Invalid request (see error.code)'),
  401: errorResponse('Missing, unknown, expired or revoked token'),
  403: errorResponse('The token has too little permission, or the ref a write would move is outside its ref scope or protected'),
  404: errorResponse('Not found (also for repositories outside the token scope)'),
  409: errorResponse('Conflict'),
  413: errorResponse('Body too large, or a read over GITGATE_MAX_READ_BYTES (READ_TOO_LARGE)'),
  405: errorResponse('Method not supported on this path'),
  415: errorResponse('Unsupported content type'),
  423: errorResponse('Repository lock contention: retry'),
  502: errorResponse('The source repository could not be reached'),
};
const errs = (...codes: (keyof typeof ERR)[]) => Object.fromEntries(codes.map((c) => [String(c), ERR[c]]));

const repoId = { name: 'id', in: 'path', required: true, description: 'Repository id or unique name (a trailing .git is ignored)', schema: str() };
const filePath = {
  name: 'path',
  in: 'path',
  required: true,
  description:
    'Repository-relative file path. Either URL-encoded as one segment (src%2Fa.ts, what the Relace SDK sends) or with plain slashes (src/a.ts). No "..", no absolute paths, no ".git" components.',
  schema: str(),
};
const branchDoc = {
  branch: "Branch to write (short agent/x or full refs/heads/agent/x; default HEAD's branch). A missing branch is created from base: a ref creation, under the token's ref scope and the protected-ref and case rules",
  base: 'Branch, tag or full commit id a missing branch starts from (default HEAD); ignored when the branch exists',
  expected_head: 'Lease: the commit the change is based on; 409 STALE_REF when the branch is elsewhere (or missing)',
};
const tokenRef = { name: 'ref', in: 'path', required: true, description: 'The token id, or its secret', schema: str() };
const refPatterns = {
  type: 'array',
  items: str('A full ref name under refs/, or a refspec glob with one * matching any characters, / included (refs/heads/agent/*, refs/tags/v*)'),
  maxItems: 100,
};
const tokenRights = {
  refs: {
    ...refPatterns,
    description:
      "Ref scope: the token may create, update and delete only matching refs (reads are unrestricted). [] = every ref. Omitted: the minting token's scope. Must lie within the minting token's scope (403 ATTENUATION).",
  },
  allow_force: { type: 'boolean', description: 'May make non-fast-forward updates and move existing tags. Default: false with a ref scope, else the minting token\'s right. Never more than the minter\'s.' },
  allow_delete: { type: 'boolean', description: 'May delete refs. Default: false with a ref scope, else the minting token\'s right. Never more than the minter\'s.' },
};

type Docs = Record<string, Record<string, string>>;

/** Prose for the generated request components: component → property → description ('' is the component's own). */
const requestDocs: Docs = {
  RepoCreate: {
    name: 'Unique name, usable in place of the id in URLs',
    source:
      "files: the repository's first commit. git: import an http(s) URL of a Git repository served over smart HTTP (credentials may be embedded, https://user:token@host/repo.git, and are never echoed; branch: default the remote HEAD branch; hash: start at this commit of the branch). relace: fork repo_id: every ref and HEAD of the source, sharing its pack files; needs read on the source and every ref copied in the token's ref scope (copy_remote is accepted and ignored: gitgate keeps no remotes).",
  },
  RepoUpdate: {
    ...branchDoc,
    metadata: 'Replaces the metadata; null or absent leaves it unchanged',
    source:
      'files: snapshot (the listed files are the whole tree; others are deleted). diff: operations applied in three phases: deletes (a file or a directory, recursive), writes (last write to a path wins), renames; a delete or rename of a missing path is 404 FILE_NOT_FOUND. git: pull & merge: fast-forward, or one merge commit (three-way, line by line in text files; 409 MERGE_CONFLICT).',
  },
  MergeRequest: {
    base: 'The branch to merge into (moved by the merge: ref scope and protected refs apply to it)',
    head: 'Branch, tag or full commit id to merge',
    method:
      'merge (default): always a merge commit (two parents); squash: one commit with the merged tree, base as its only parent; fast-forward: move base to head, 409 NOT_FAST_FORWARD when base has commits head lacks',
    message: "Commit message (default Merge branch 'head' into base / Squash branch 'head' into base)",
    delete_head: "Delete the head branch in the same atomic ref update (needs allow_delete and head in the ref scope; never HEAD's branch)",
    expected_head: 'The commit head must still be at (what was reviewed); 409 STALE_REF otherwise',
    expected_base: 'The commit base must still be at; 409 STALE_REF otherwise',
  },
  RetrieveRequest: {
    include_content: 'Return each file\'s content (default false)',
    score_threshold: 'Scores are relative: the best match scores 1 (default 0.3)',
    token_limit: 'With include_content: results are taken best-first while their content (~4 characters per token) fits (default 30000)',
    hash: 'Commit to search (default HEAD)',
    branch: 'Branch to search',
    rerank: 'Accepted and ignored',
  },
  ProtectedRefs: { patterns: 'Refs only admin tokens may create, update or delete' },
  RepoTokenCreate: { refs: tokenRights.refs.description, allow_force: tokenRights.allow_force.description, allow_delete: tokenRights.allow_delete.description },
  WorkspaceTokenCreate: { refs: tokenRights.refs.description, allow_force: tokenRights.allow_force.description, allow_delete: tokenRights.allow_delete.description },
  TokenRotate: { grace_seconds: 'Seconds the old secret keeps working (default 0: it stops at once)' },
  ...agentRequestDocs,
  ...eventRequestDocs,
};

/** Prose for the generated query parameters, by name; an operation's own entry (`${METHOD} ${path}`) wins. */
const queryDocs: Docs = {
  '': {
    page_size: 'Items per page',
    page_start: 'Index of the first item',
    commit: 'Full 40-character commit id (default: HEAD)',
    branch: 'Branch to read (default HEAD); commit wins when both are given',
  },
  'GET /v1/repo': {
    order_by: 'Sort key (default created_at)',
    filter_metadata: 'JSON object of string values that must all match',
  },
  'GET /v1/audit': { repo_id: 'Only events of this repository (id or name)', action: 'Only events of this action' },
  'GET /v1/repo_token': { repo_id: 'Only tokens scoped to this repository', include_revoked: 'Also revoked tokens' },
  'GET /v1/repo/{id}/info/refs': { service: 'The service to advertise refs for (missing: 400 DUMB_PROTOCOL: gitgate speaks only smart HTTP)' },
  'POST /v1/repo/{id}/update': branchDoc,
  'PUT /v1/repo/{id}/file/{path}': branchDoc,
  'DELETE /v1/repo/{id}/file/{path}': branchDoc,
  ...agentQueryDocs,
  ...eventQueryDocs,
};

/** The request components, generated from the zod schemas the routes validate with (src/http/request-schemas.ts). */
function requestSchemas(): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  for (const [name, schema] of Object.entries(REQUEST_BODIES)) {
    const generated = requestJsonSchema(schema);
    const props = (generated.properties ?? {}) as Record<string, Schema>;
    for (const [key, description] of Object.entries(requestDocs[name] ?? {})) {
      if (key === '') generated.description = description;
      else if (!props[key]) throw new Error(`openapi: ${name} has no property ${key} to describe`);
      else props[key].description = description;
    }
    out[name] = generated;
  }
  return out;
}

/** The query parameters of one operation, generated from the schema its route validates the query with. */
function queryParameters(op: string): Schema[] {
  const schema = (REQUEST_QUERIES as Record<string, Parameters<typeof requestJsonSchema>[0]>)[op];
  if (!schema) return [];
  const generated = requestJsonSchema(schema);
  const required = new Set((generated.required ?? []) as string[]);
  return Object.entries((generated.properties ?? {}) as Record<string, Schema>).map(([name, prop]) => {
    const description = queryDocs[op]?.[name] ?? queryDocs['']![name];
    return { name, in: 'query', required: required.has(name), ...(description ? { description } : {}), schema: prop };
  });
}

/** Every operation's query parameters, generated (a hand-written one is an error: it could drift). */
function withQueryParameters(all: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  for (const [p, item] of Object.entries(all)) {
    for (const [method, op] of Object.entries(item) as [string, { parameters?: Schema[] }][]) {
      const key = `${method.toUpperCase()} ${p}`;
      if ((op.parameters ?? []).some((x) => x.in === 'query')) throw new Error(`openapi: ${key} writes a query parameter by hand`);
      const generated = queryParameters(key);
      if (generated.length) op.parameters = [...(op.parameters ?? []), ...generated];
    }
  }
  for (const op of Object.keys(REQUEST_QUERIES)) {
    const [method, p] = op.split(' ') as [string, string];
    if (!all[p]?.[method.toLowerCase()]) throw new Error(`openapi: query schema for ${op}, an operation the document lacks`);
  }
  return all;
}

const schemas: Record<string, Schema> = {
  AuditEvent: obj(
    {
      id: { type: 'integer' },
      at: str(undefined, { format: 'date-time' }),
      action: str(undefined, { enum: [...AUDIT_ACTIONS] }),
      actor_token_id: nullable(str('Id of the token that acted (null: local CLI)')),
      client_ip: nullable(str()),
      repo_id: nullable(str()),
      repo_ids: { type: 'array', items: str() },
      ref: nullable(str()),
      old_oid: nullable(str('null when the ref was created')),
      new_oid: nullable(str('null when the ref was deleted')),
      target_token_id: nullable(str()),
      detail: nullable({ type: 'object' }),
    },
    ['id', 'at', 'action'],
  ),
  AuditList: obj({ items: { type: 'array', items: { $ref: '#/components/schemas/AuditEvent' } }, total_items: { type: 'integer' }, next_page: nullable({ type: 'integer' }) }, ['items', 'total_items']),
  Error: obj(
    {
      error: obj(
        {
          code: str('Stable error code', { enum: Object.keys(ERRORS) }),
          message: str(),
          conflicts: { type: 'array', items: str(), description: 'MERGE_CONFLICT only: the paths changed incompatibly on both sides (at most 1000)' },
        },
        ['code', 'message'],
      ),
    },
    ['error'],
  ),
  File: obj({ filename: str('Repository-relative POSIX path'), content: str('UTF-8 text') }, ['filename', 'content']),
  Metadata: nullable({ type: 'object', additionalProperties: { type: 'string' } }),
  RepoInfo: obj(
    {
      repo_id: str(),
      branch: str('Update and file writes: the branch written (short name)'),
      repo_head: nullable(str('Commit id of the branch written (creation: the default branch; null for an empty repository)')),
      changed_files: { type: 'array', items: str(), description: 'Paths added, modified or deleted by this call' },
    },
    ['repo_id', 'repo_head'],
  ),
  MergeResult: obj(
    {
      repo_id: str(),
      branch: str('base'),
      repo_head: str('The new commit of base'),
      method: str(undefined, { enum: ['merge', 'squash', 'fast-forward'] }),
      parents: { type: 'array', items: str() },
      merge_base: nullable(str('The common ancestor merged from (null: unrelated histories)')),
      changed_files: { type: 'array', items: str(), description: 'Paths that differ between the old and new base' },
      head_deleted: { type: 'boolean' },
    },
    ['repo_id', 'branch', 'repo_head', 'method', 'parents', 'merge_base', 'changed_files', 'head_deleted'],
  ),
  RepoMetadata: obj(
    {
      repo_id: str(),
      name: nullable(str()),
      default_branch: str(),
      created_at: str(undefined, { format: 'date-time' }),
      updated_at: nullable(str(undefined, { format: 'date-time' })),
      metadata: ref('Metadata'),
      auto_index: { type: 'boolean' },
    },
    ['repo_id', 'created_at', 'updated_at', 'metadata', 'auto_index'],
  ),
  RepoList: obj({ items: { type: 'array', items: ref('RepoMetadata') }, total_items: { type: 'integer' }, next_page: nullable({ type: 'integer' }) }, ['items', 'total_items']),
  CloneResponse: obj({ files: { type: 'array', items: ref('File') } }, ['files']),
  RetrieveResponse: obj(
    {
      hash: str('The commit searched'),
      pending_embeddings: { type: 'integer', const: 0 },
      results: { type: 'array', items: obj({ filename: str(), score: { type: 'number' }, content: nullable(str()) }, ['filename', 'score']) },
    },
    ['hash', 'pending_embeddings', 'results'],
  ),
  Permission: str(undefined, { enum: ['read', 'write', 'admin'] }),
  TokenRecord: obj(
    {
      id: str(),
      kind: str(undefined, { enum: ['workspace', 'repo'] }),
      permission: ref('Permission'),
      name: nullable(str()),
      repo_ids: { type: 'array', items: str() },
      refs: { ...refPatterns, description: 'Ref scope ([] = every ref)' },
      allow_force: { type: 'boolean' },
      allow_delete: { type: 'boolean' },
      created_at: str(),
      expires_at: nullable(str()),
      revoked_at: nullable(str()),
      last_used_at: nullable(str('When the token last authenticated a request (recorded at most once a minute)')),
      last_used_ip: nullable(str('Client address of that request')),
      created_by: nullable(str()),
    },
    ['id', 'kind', 'permission', 'repo_ids', 'refs', 'allow_force', 'allow_delete'],
  ),
  TokenCreated: obj(
    {
      token: str('The secret: shown only here'),
      id: str(),
      kind: str(),
      name: nullable(str()),
      repo_ids: { type: 'array', items: str() },
      permission: ref('Permission'),
      refs: { ...refPatterns, description: 'Ref scope ([] = every ref)' },
      allow_force: { type: 'boolean' },
      allow_delete: { type: 'boolean' },
      expires_at: nullable(str()),
      created_at: str(),
    },
    ['token', 'id', 'name', 'repo_ids', 'permission', 'refs', 'allow_force', 'allow_delete', 'expires_at'],
  ),
  TokenRotated: {
    allOf: [
      ref('TokenCreated'),
      obj({ previous_secret_valid_until: nullable(str('When the replaced secret stops working (null: it already has)', { format: 'date-time' })) }, ['previous_secret_valid_until']),
    ],
  },
  TokenList: obj({ items: { type: 'array', items: ref('TokenRecord') }, total_items: { type: 'integer' }, next_page: nullable({ type: 'integer' }) }, ['items', 'total_items']),
  ...agentSchemas,
};

const gitService = (service: string) => ({
  post: {
    tags: ['git'],
    summary: `Git smart HTTP: ${service} RPC`,
    security: [{ basic: [] }, { bearer: [] }],
    parameters: [repoId],
    requestBody: { required: true, content: { [`application/x-${service}-request`]: { schema: str(undefined, { format: 'binary' }) } } },
    responses: {
      200: { description: 'pkt-line response', content: { [`application/x-${service}-result`]: { schema: str(undefined, { format: 'binary' }) } } },
      ...errs(400, 401, 403, 404, 413),
    },
  },
});

const health = obj(
  {
    status: str(undefined, { enum: ['ok', 'error', 'shutting_down'] }),
    checks: obj({ db: str(undefined, { enum: ['ok', 'error'] }) }),
    node: str('This node (GITGATE_NODE_ID)'),
    database: str(undefined, { enum: ['sqlite', 'postgres'] }),
  },
  ['status'],
);

const paths: Record<string, Record<string, unknown>> = withQueryParameters({
  '/healthz': {
    get: {
      tags: ['meta'],
      summary: 'Health: checks the database (SELECT 1)',
      security: [],
      responses: {
        200: jsonResponse('Serving', health),
        503: jsonResponse('Database unavailable, or shutting down', health),
      },
    },
  },
  '/mcp': {
    post: {
      tags: ['mcp'],
      summary: 'Model Context Protocol (Streamable HTTP, stateless): JSON-RPC requests to the gitgate tools and file resources',
      description: 'Every tool call goes through the same permission, repository, ref-scope and protected-ref rules as the REST API. See the README section "MCP server".',
      requestBody: { required: true, content: { 'application/json': { schema: obj({}) } } },
      responses: { 200: jsonResponse('JSON-RPC response', obj({})), 202: { description: 'Notification accepted' }, ...errs(400, 401, 415) },
    },
    get: { tags: ['mcp'], summary: 'Not supported: no server-initiated stream (stateless)', responses: errs(401, 405) },
    delete: { tags: ['mcp'], summary: 'Not supported: no sessions to end (stateless)', responses: errs(401, 405) },
  },
  '/metrics': {
    get: {
      tags: ['meta'],
      summary: 'Prometheus metrics (text format 0.0.4)',
      description:
        'Requests by method/route/status, bytes in/out, request duration histogram, active clones and pushes, auth failures, throttled requests. Access per GITGATE_METRICS: loopback (default: open to loopback clients, a workspace admin token otherwise), public, token, off.',
      security: [{}, { bearer: [] }],
      responses: {
        200: { description: 'Metrics', content: { 'text/plain': { schema: str() } } },
        ...errs(401, 403, 404),
      },
    },
  },
  '/v1/audit': {
    get: {
      tags: ['audit'],
      summary: 'The audit trail, newest first (admin tokens)',
      description:
        'Pushes (one push event plus one ref.update per ref), ref moves by the REST API, repository creation and deletion, token creation, rotation and revocation (cascades included), protected-ref changes. Workspace admins see every event; repository admins the events whose repositories all lie in their scope.',
      responses: { 200: jsonResponse('A page', ref('AuditList')), ...errs(400, 401, 403, 404) },
    },
  },
  '/v1/openapi.json': {
    get: { tags: ['meta'], summary: 'This document', security: [], responses: { 200: jsonResponse('OpenAPI 3.1 document', { type: 'object' }) } },
  },
  '/v1/repo': {
    post: {
      tags: ['repos'],
      summary: 'Create a repository (empty, from files, imported from a Git URL, or forked from another repository)',
      description: 'Workspace token with write permission (a fork also needs read on the source). A git import is limited to GITGATE_MAX_IMPORT_BYTES (413 SOURCE_TOO_LARGE) and to http(s) URLs of public addresses: loopback, private and link-local destinations (checked on every redirect hop) are 400 SOURCE_FORBIDDEN unless allowed by GITGATE_IMPORT_ALLOW_NETWORKS; on any failure nothing is created.',
      requestBody: jsonBody(ref('RepoCreate'), false),
      responses: { 201: jsonResponse('Created', ref('RepoInfo')), ...errs(400, 401, 403, 409, 413, 502) },
    },
    get: {
      tags: ['repos'],
      summary: 'List repositories',
      responses: { 200: jsonResponse('A page', ref('RepoList')), ...errs(400, 401) },
    },
  },
  '/v1/repo/{id}': {
    get: { tags: ['repos'], summary: 'Repository metadata', parameters: [repoId], responses: { 200: jsonResponse('Metadata', ref('RepoMetadata')), ...errs(401, 404) } },
    delete: {
      tags: ['repos'],
      summary: 'Delete a repository, its data and its token scopes (admin)',
      parameters: [repoId],
      responses: { 204: { description: 'Deleted' }, ...errs(401, 403, 404) },
    },
  },
  '/v1/repo/{id}/protected_refs': {
    get: {
      tags: ['repos'],
      summary: "The repository's protected ref patterns (read)",
      parameters: [repoId],
      responses: { 200: jsonResponse('Patterns', ref('ProtectedRefs')), ...errs(401, 404) },
    },
    put: {
      tags: ['repos'],
      summary: 'Replace the protected ref patterns (admin)',
      description:
        'Only admin tokens may create, update, force-push or delete a protected ref: pushes by others get "ng <ref> protected ref: …", REST writes to a protected branch 403 FORBIDDEN.',
      parameters: [repoId],
      requestBody: jsonBody(ref('ProtectedRefs')),
      responses: { 200: jsonResponse('The new list', ref('ProtectedRefs')), ...errs(400, 401, 403, 404) },
    },
  },
  '/v1/repo/{id}/update': {
    post: {
      tags: ['content'],
      summary: "Apply a snapshot, a diff or a git pull as one commit on a branch (default HEAD's) (write)",
      description:
        'At most one commit per call, authored by GITGATE_AUTHOR_NAME/EMAIL, with a message saying what changed. A no-op makes no commit and returns the current head with changed_files [] (a missing branch is still created at its base). branch, base and expected_head may be body fields or query parameters (the body wins). 423 REPO_LOCKED when another update holds the repository; 409 STALE_REF when a push moved the branch meanwhile (retry) or the expected_head lease failed.',
      parameters: [repoId],
      requestBody: jsonBody(ref('RepoUpdate'), false),
      responses: { 200: jsonResponse('New head', ref('RepoInfo')), ...errs(400, 401, 403, 404, 409, 413, 423, 502) },
    },
  },
  '/v1/repo/{id}/clone': {
    get: {
      tags: ['content'],
      summary: 'Every tracked text file (binary files, symlinks and submodules are skipped)',
      parameters: [repoId],
      responses: { 200: jsonResponse('Files', ref('CloneResponse')), ...errs(400, 401, 404, 413) },
    },
  },
  '/v1/repo/{id}/retrieve': {
    post: {
      tags: ['content'],
      summary: 'Lexical search (BM25 over contents and paths) of a commit',
      parameters: [repoId],
      requestBody: jsonBody(ref('RetrieveRequest')),
      responses: { 200: jsonResponse('Ranked files', ref('RetrieveResponse')), ...errs(400, 401, 404) },
    },
  },
  '/v1/repo/{id}/file/{path}': {
    get: {
      tags: ['content'],
      summary: 'Read a file (raw bytes)',
      parameters: [repoId, filePath],
      responses: {
        200: {
          description: 'The file; X-Gitgate-Commit names the commit read',
          headers: { 'X-Gitgate-Commit': { schema: str() } },
          content: { 'application/octet-stream': { schema: str(undefined, { format: 'binary' }) } },
        },
        ...errs(400, 401, 404, 413),
      },
    },
    put: {
      tags: ['content'],
      summary: 'Write a file (raw body bytes, any content type) as one commit (write)',
      parameters: [repoId, filePath],
      requestBody: { required: true, content: { '*/*': { schema: str(undefined, { format: 'binary' }) } } },
      responses: { 200: jsonResponse('New head', ref('RepoInfo')), ...errs(400, 401, 403, 404, 409, 413, 423) },
    },
    delete: {
      tags: ['content'],
      summary: 'Delete a file (or directory) as one commit (write)',
      parameters: [repoId, filePath],
      responses: { 200: jsonResponse('New head', ref('RepoInfo')), ...errs(400, 401, 403, 404, 409, 423) },
    },
  },
  '/v1/repo/{id}/merge': {
    post: {
      tags: ['content'],
      summary: 'Merge head into the branch base (write; admin when base is protected)',
      description:
        "Like GitHub's POST /repos/{owner}/{repo}/merges. Three-way merge from the best common ancestor (criss-cross: the newest by committer date, as git merge-base picks one; no virtual base): a path changed on one side takes that side, the same change on both is kept, a text file changed on both is merged line by line (diff3; changes that overlap or touch conflict, as in git). Binary files, symlinks, submodules, modify/delete and file/directory changes on both sides conflict; renames are not detected. Under the repository lock; base (and head, with delete_head) move in one atomic compare-and-swap; a conflict writes nothing.",
      parameters: [repoId],
      requestBody: jsonBody(ref('MergeRequest')),
      responses: {
        201: jsonResponse('Merged: base moved', ref('MergeResult')),
        204: { description: 'Nothing to merge: head is already in base (or a squash would change nothing)' },
        ...errs(400, 401, 403, 404, 423),
        409: errorResponse('MERGE_CONFLICT (error.conflicts lists the paths), NOT_FAST_FORWARD, or STALE_REF (a lease failed, or a push moved base meanwhile)'),
      },
    },
  },
  '/v1/repo/{id}/apikey': {
    post: {
      tags: ['tokens'],
      summary: 'Flashback form: mint a key for one repository (admin)',
      parameters: [repoId],
      requestBody: jsonBody(ref('ApiKeyCreate')),
      responses: {
        201: jsonResponse('Minted', obj({ success: { type: 'boolean' }, id: str(), key: str(), secret: str() }, ['success', 'id', 'key', 'secret'])),
        ...errs(400, 401, 403, 404),
      },
    },
  },
  '/v1/repo_token': {
    post: {
      tags: ['tokens'],
      summary: 'Mint a repository token (admin; no stronger than the caller)',
      requestBody: jsonBody(ref('RepoTokenCreate')),
      responses: { 201: jsonResponse('Minted', ref('TokenCreated')), ...errs(400, 401, 403, 404) },
    },
    get: {
      tags: ['tokens'],
      summary: 'List tokens the caller may see',
      responses: { 200: jsonResponse('A page', ref('TokenList')), ...errs(400, 401, 403) },
    },
  },
  '/v1/repo_token/{ref}': {
    get: {
      tags: ['tokens'],
      summary: "A token's record (the token itself, or one the caller could have minted)",
      parameters: [tokenRef],
      responses: { 200: jsonResponse('Record', ref('TokenRecord')), ...errs(401, 403, 404) },
    },
    delete: {
      tags: ['tokens'],
      summary: 'Revoke a token and every token it minted (the token itself, or one the caller could have minted)',
      parameters: [tokenRef],
      responses: { 204: { description: 'Revoked' }, ...errs(401, 403, 404) },
    },
  },
  '/v1/repo_token/{ref}/rotate': {
    post: {
      tags: ['tokens'],
      summary: 'Issue a new secret for the same token (same id, scope and rights)',
      description:
        'Allowed to the token itself, and to a token that could have minted it (permission, repositories, expiry, refs, allow_force, allow_delete and kind no wider than its own): 403 TOKEN_TOO_STRONG otherwise, 404 when the token lies outside the caller\'s repositories. The old secret stops working at once, or after grace_seconds (at most 7 days); rotating again ends an earlier grace period. Recorded in the audit trail as token.rotate.',
      parameters: [tokenRef],
      requestBody: jsonBody(ref('TokenRotate'), false),
      responses: { 200: jsonResponse('Rotated: the new secret, shown only here', ref('TokenRotated')), ...errs(400, 401, 403, 404) },
    },
  },
  '/v1/workspace_token': {
    post: {
      tags: ['tokens'],
      summary: 'Mint a workspace token (workspace admin)',
      requestBody: jsonBody(ref('WorkspaceTokenCreate')),
      responses: { 201: jsonResponse('Minted', ref('TokenCreated')), ...errs(400, 401, 403) },
    },
  },
  '/v1/repo/{id}/info/refs': {
    get: {
      tags: ['git'],
      summary: 'Git smart HTTP: ref advertisement',
      security: [{ basic: [] }, { bearer: [] }],
      parameters: [repoId],
      responses: {
        200: { description: 'pkt-line advertisement', content: { 'application/x-git-upload-pack-advertisement': {}, 'application/x-git-receive-pack-advertisement': {} } },
        ...errs(400, 401, 403, 404),
      },
    },
  },
  '/v1/repo/{id}/git-upload-pack': gitService('git-upload-pack'),
  '/v1/repo/{id}/git-receive-pack': gitService('git-receive-pack'),
  ...agentPaths,
  ...eventPaths,
});

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'gitgate',
    version: '0.1.0',
    description:
      'Self-hosted Git smart-HTTP server with scoped, expiring, revocable tokens. The REST API follows the Relace Repos API (use the @relace-ai/relace SDK with baseURL http://HOST:PORT/v1). Errors are {"error": {"code", "message"}}.',
  },
  servers: [{ url: '/' }],
  security: [{ bearer: [] }, { basic: [] }],
  tags: [
    { name: 'repos', description: 'Repositories' },
    { name: 'content', description: 'Files, snapshots, diffs and search' },
    { name: 'tokens', description: 'Scoped, expiring, revocable tokens' },
    { name: 'git', description: 'Git smart HTTP (protocol v0/v1/v2); Basic auth with the token as password' },
    { name: 'meta', description: 'Service' },
    { name: 'audit', description: 'Audit trail' },
    { name: 'events', description: 'Push events: webhooks and the events feed' },
  ],
  paths,
  components: {
    schemas: { ...schemas, ...eventSchemas, ...requestSchemas() },
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'A gitgate token (ggw_… or ggr_…)' },
      basic: { type: 'http', scheme: 'basic', description: 'Any user name; the token as the password' },
    },
  },
} as const;

export const openApiHandler: RequestHandler = (_req, res) => {
  res.setHeader('Cache-Control', 'no-cache');
  res.json(openApiDocument);
};
