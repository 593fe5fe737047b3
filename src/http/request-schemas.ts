// What REST clients send: the JSON request bodies and the query strings. The routes validate
// with these schemas and src/http/openapi.ts generates the document's request components and
// query parameters from the same objects (z.toJSONSchema), so a limit changed here changes both.
import { z } from 'zod';
import { OID_ANY_CASE_PATTERN } from '../oid.js';
import { AUDIT_ACTIONS } from '../audit/audit-log.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../db/repos-table.js';
import { MAX_REF_PATTERNS } from '../auth/ref-policy.js';
import { MAX_ROTATION_GRACE_SECONDS } from '../auth/token-service.js';
import { MAX_CONTEXT_LINES, MAX_MAX_RESULTS } from '../service/content/code-search.js';
import { eventPatternProblem, MAX_EVENT_PATTERNS } from '../webhooks/patterns.js';
import { MAX_WEBHOOK_URL_LENGTH } from '../webhooks/url.js';
import { metadataSchema, queryBool, queryIntIn } from './validate.js';

const MAX_WAIT_SECONDS = 60;

const MAX_FILES = 100_000;
const MAX_REF_LENGTH = 1024;
export const MAX_NAME_LENGTH = 200;
export const MAX_TOKEN_REPO_IDS = 1000;

/** One file of a snapshot (create, update). */
export const fileSchema = z.object({ filename: z.string(), content: z.string() });
/** A git source URL (create and update import from it; the request policy decides where it may point). */
export const gitUrlSchema = z.string().min(1).max(8192);
export const oidSchema = z.string().regex(OID_ANY_CASE_PATTERN, 'must be a full 40-character hexadecimal commit id');
const refName = z.string().min(1).max(MAX_REF_LENGTH);

const operationSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('write'), filename: z.string(), content: z.string() }),
  z.object({ type: z.literal('delete'), filename: z.string() }),
  z.object({ type: z.literal('rename'), old_filename: z.string(), new_filename: z.string() }),
]);

/** Which branch a write moves: body fields, or the same names in the query string (branchQuery). */
export const branchFields = {
  branch: refName.nullable().optional(),
  base: refName.nullable().optional(),
  expected_head: oidSchema.nullable().optional(),
};

export const repoCreateSchema = z.object({
  name: z.string().nullable().optional(),
  metadata: metadataSchema,
  auto_index: z.boolean().optional(),
  source: z
    .discriminatedUnion('type', [
      z.object({ type: z.literal('files'), files: z.array(fileSchema).max(MAX_FILES) }),
      z.object({ type: z.literal('git'), url: gitUrlSchema, branch: z.string().max(MAX_REF_LENGTH).nullable().optional(), hash: z.string().nullable().optional() }),
      z.object({ type: z.literal('relace'), repo_id: z.string().min(1).max(MAX_NAME_LENGTH), copy_metadata: z.boolean().optional(), copy_remote: z.boolean().optional() }),
    ])
    .nullable()
    .optional(),
});

export const repoUpdateSchema = z.object({
  ...branchFields,
  metadata: metadataSchema,
  source: z
    .discriminatedUnion('type', [
      z.object({ type: z.literal('files'), files: z.array(fileSchema).max(MAX_FILES) }),
      z.object({ type: z.literal('diff'), operations: z.array(operationSchema).max(MAX_FILES) }),
      z.object({ type: z.literal('git'), url: gitUrlSchema, branch: z.string().max(MAX_REF_LENGTH).nullable().optional() }),
    ])
    .nullable()
    .optional(),
});

export const protectedRefsSchema = z.object({ patterns: z.array(z.string()).max(MAX_REF_PATTERNS) });

export const retrieveSchema = z.object({
  query: z.string().min(1).max(100_000),
  include_content: z.boolean().optional(),
  score_threshold: z.number().min(0).max(1).optional(),
  token_limit: z.number().int().min(0).optional(),
  hash: z.string().max(100).nullable().optional(),
  branch: z.string().max(MAX_REF_LENGTH).nullable().optional(),
  rerank: z.boolean().optional(),
});

export const mergeSchema = z.object({
  base: refName,
  head: refName,
  method: z.enum(['merge', 'squash', 'fast-forward']).optional(),
  message: z.string().min(1).max(65536).refine((m) => !m.includes('\0'), 'must not contain NUL').nullable().optional(),
  delete_head: z.boolean().optional(),
  expected_head: oidSchema.nullable().optional(),
  expected_base: oidSchema.nullable().optional(),
});

export const refCreateSchema = z.object({ ref: refName, commit: refName });

const searchFields = {
  query: z.string().min(1).max(10_000),
  regex: queryBool.optional(),
  case_sensitive: queryBool.optional(),
  path_glob: z.string().max(MAX_REF_LENGTH).nullable().optional(),
  branch: z.string().max(MAX_REF_LENGTH).nullable().optional(),
  hash: z.string().max(100).nullable().optional(),
  max_results: queryIntIn(1, MAX_MAX_RESULTS).optional(),
  context_lines: queryIntIn(0, MAX_CONTEXT_LINES).optional(),
};
export const searchSchema = z.object(searchFields);
/** The SDK sends agent inputs as strings: the same fields, booleans and numbers as text. */
export const agentSchema = z.object({
  agent_name: z.string().max(MAX_NAME_LENGTH),
  agent_inputs: z.object(searchFields),
  continue: z.boolean().optional(),
  overrides: z.unknown().optional(),
});

export const webhookCreateSchema = z.object({
  url: z.string().min(1).max(MAX_WEBHOOK_URL_LENGTH),
  repo_id: z.string().min(1).max(MAX_NAME_LENGTH).nullable().optional(),
  events: z
    .array(z.string().max(100))
    .min(1)
    .max(MAX_EVENT_PATTERNS)
    .superRefine((list, c) => {
      for (const p of list) {
        const problem = eventPatternProblem(p);
        if (problem) c.addIssue({ code: 'custom', message: problem });
      }
    })
    .optional(),
  secret: z.string().min(1).max(1024),
});

const permission = z.enum(['read', 'write', 'admin']);
const ttl = z.number().int().positive().max(100 * 365 * 24 * 3600).nullable().optional();
// ref scope and rights; patterns are validated by TokenService (400 VALIDATION)
const refRights = {
  refs: z.array(z.string()).max(MAX_REF_PATTERNS).optional(),
  allow_force: z.boolean().optional(),
  allow_delete: z.boolean().optional(),
};

export const repoTokenSchema = z.object({
  name: z.string().max(MAX_NAME_LENGTH).optional(),
  repo_ids: z.array(z.string()).min(1).max(MAX_TOKEN_REPO_IDS),
  ttl_seconds: ttl,
  permission: permission.optional(),
  ...refRights,
});

export const workspaceTokenSchema = z.object({
  name: z.string().max(MAX_NAME_LENGTH).optional(),
  ttl_seconds: ttl,
  permission: permission.optional(),
  ...refRights,
});

export const rotateSchema = z.object({ grace_seconds: z.number().min(0).max(MAX_ROTATION_GRACE_SECONDS).optional() });

export const apikeySchema = z.object({ name: z.string().max(MAX_NAME_LENGTH).optional(), accessType: z.enum(['READ', 'WRITE', 'ADMIN']) });

/** Document component name → the schema its route validates with. */
export const REQUEST_BODIES = {
  RepoCreate: repoCreateSchema,
  RepoUpdate: repoUpdateSchema,
  ProtectedRefs: protectedRefsSchema,
  RetrieveRequest: retrieveSchema,
  MergeRequest: mergeSchema,
  RefCreate: refCreateSchema,
  SearchRequest: searchSchema,
  AgentRequest: agentSchema,
  WebhookCreate: webhookCreateSchema,
  RepoTokenCreate: repoTokenSchema,
  WorkspaceTokenCreate: workspaceTokenSchema,
  TokenRotate: rotateSchema,
  ApiKeyCreate: apikeySchema,
} as const satisfies Record<string, z.ZodType>;

// ---------------------------------------------------------------------------------------------
// query strings (values arrive as strings: queryIntIn and queryBool convert them)

const page = { page_size: queryIntIn(1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE), page_start: queryIntIn(0, undefined, 0) };
/** Listings paged by page_size/page_start only (webhooks, their deliveries). */
export const pageQuery = z.object(page);

export const repoListQuery = z.object({
  ...page,
  order_by: z.enum(['created_at', 'updated_at']).optional(),
  order_descending: queryBool.optional(),
  created_after: z.string().meta({ format: 'date-time' }).optional(),
  created_before: z.string().meta({ format: 'date-time' }).optional(),
  filter_metadata: z
    .string()
    .optional()
    .transform((v, c) => {
      if (v === undefined) return v;
      try {
        const parsed = JSON.parse(v) as unknown;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, string>;
      } catch {
        // fall through
      }
      c.addIssue({ code: 'custom', message: 'must be a JSON object of string values' });
      return z.NEVER;
    }),
});

export const tokenListQuery = z.object({ ...page, repo_id: z.string().max(MAX_NAME_LENGTH).optional(), include_revoked: queryBool.optional() });

export const auditListQuery = z.object({ repo_id: z.string().min(1).max(MAX_NAME_LENGTH).optional(), action: z.enum(AUDIT_ACTIONS).optional(), ...page });

export const refListQuery = z.object({ prefix: z.string().max(MAX_REF_LENGTH).optional(), ...page });

/** An event id as the feed's cursor (after=, Last-Event-ID). */
export const cursorSchema = z.string().regex(/^\d{1,15}$/, 'must be an event id (a non-negative integer)').transform(Number);
export const eventsQuery = z.object({
  after: cursorSchema.optional(),
  wait: queryIntIn(0, MAX_WAIT_SECONDS, 0),
  limit: queryIntIn(1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
});

export const compareQuery = z.object({ format: z.enum(['json', 'patch', 'diff']).optional(), name_only: queryBool.optional() });

/** Writes: which branch moves (the body fields of update, as query parameters: never null). */
export const branchQuery = z.object({ branch: refName.optional(), base: refName.optional(), expected_head: oidSchema.optional() });
/** Reads: a commit, or a branch (the commit wins). */
export const commitQuery = z.object({ commit: oidSchema.optional(), branch: refName.optional() });
export const indexStatusQuery = z.object({ branch: z.string().max(MAX_REF_LENGTH).optional(), hash: z.string().max(100).optional() });

/** Smart HTTP's ?service=; the route answers a missing one DUMB_PROTOCOL and another value BAD_SERVICE. */
export const infoRefsQuery = z.object({ service: z.enum(['git-upload-pack', 'git-receive-pack']) });

/** `${METHOD} ${OpenAPI path}` → the schema its route validates the query string with. */
export const REQUEST_QUERIES = {
  'GET /v1/repo': repoListQuery,
  'GET /v1/repo_token': tokenListQuery,
  'GET /v1/audit': auditListQuery,
  'GET /v1/repo/{id}/refs': refListQuery,
  'GET /v1/webhooks': pageQuery,
  'GET /v1/webhooks/{id}/deliveries': pageQuery,
  'GET /v1/events': eventsQuery,
  'GET /v1/repo/{id}/compare/{spec}': compareQuery,
  'POST /v1/repo/{id}/update': branchQuery,
  'PUT /v1/repo/{id}/file/{path}': branchQuery,
  'DELETE /v1/repo/{id}/file/{path}': branchQuery,
  'GET /v1/repo/{id}/file/{path}': commitQuery,
  'GET /v1/repo/{id}/clone': commitQuery,
  'GET /v1/repo/{id}/embedding_status': indexStatusQuery,
  'GET /v1/repo/{id}/info/refs': infoRefsQuery,
} as const satisfies Record<string, z.ZodObject>;

/** The JSON Schema (2020-12, what OpenAPI 3.1 uses) of what a client sends. */
export function requestJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}
