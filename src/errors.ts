// The one error catalogue: every error gitgate reports has a code, an HTTP status and a
// message template defined here, so REST bodies, Git protocol errors and CLI output agree.
import { redactSecrets } from './redact.js';

export interface ErrorDef {
  status: number;
  message: string; // may contain {name} placeholders filled from params
}

export const ERRORS = {
  // authentication / authorisation
  UNAUTHENTICATED: { status: 401, message: 'Authentication required: present a valid gitgate token' },
  FORBIDDEN: { status: 403, message: 'Permission denied: {reason}' },
  CONTROL_PLANE_ONLY: { status: 403, message: 'Permission denied: repository tokens cannot use {what}' },
  ATTENUATION: { status: 403, message: 'Permission denied: a token can only mint tokens no stronger than itself ({reason})' },
  TOKEN_TOO_STRONG: { status: 403, message: 'Permission denied: a token may only manage itself and tokens it could have minted ({reason})' },
  CSRF: { status: 403, message: 'Form refused: {reason}; reload the page and try again' },

  // lookups
  REPO_NOT_FOUND: { status: 404, message: 'Repository not found' },
  TOKEN_NOT_FOUND: { status: 404, message: 'Token not found' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No route for {method} {path}' },
  METHOD_NOT_ALLOWED: { status: 405, message: '{method} is not supported here: {detail}' },
  COMMIT_NOT_FOUND: { status: 404, message: 'Commit not found: {commit}' },
  FILE_NOT_FOUND: { status: 404, message: 'File not found: {path}' },

  // request validation
  BAD_JSON: { status: 400, message: 'Request body is not valid JSON' },
  VALIDATION: { status: 400, message: 'Invalid request: {detail}' },
  BAD_PATH: { status: 400, message: 'Invalid file path: {detail}' },
  BAD_REF_NAME: { status: 400, message: 'Invalid ref name: {ref}' },
  NAME_TAKEN: { status: 409, message: 'A repository named {name} already exists' },
  BODY_TOO_LARGE: { status: 413, message: 'Request body too large (limit {limit} bytes)' },
  UNSUPPORTED_MEDIA: { status: 415, message: 'Unsupported content type: {type}' },
  TTL_TOO_LONG: { status: 400, message: 'Invalid request: ttl_seconds {ttl} exceeds the maximum token lifetime of {max} seconds (GITGATE_MAX_TOKEN_TTL_SECONDS)' },
  READ_TOO_LARGE: { status: 413, message: '{what} is {size} bytes, over the read limit of {limit} bytes (GITGATE_MAX_READ_BYTES); fetch it with git instead' },
  BAD_ENCODING: { status: 400, message: 'Request body could not be decoded: {detail}' },

  // git protocol
  DUMB_PROTOCOL: { status: 403, message: 'gitgate only speaks the smart HTTP protocol; upgrade git or pass ?service=git-upload-pack|git-receive-pack' },
  BAD_SERVICE: { status: 400, message: 'Unknown service {service}' },
  PROTOCOL: { status: 400, message: 'Protocol error: {detail}' },
  BAD_PACK: { status: 400, message: 'Invalid pack: {detail}' },
  PACK_TOO_LARGE: { status: 413, message: 'Pack exceeds the maximum push size of {limit} bytes' },
  OBJECT_NOT_FOUND: { status: 404, message: 'Object not found: {oid}' },
  CORRUPT_REPO: { status: 500, message: 'Repository is corrupt: {detail}' },

  // concurrency
  REF_LOCKED: { status: 423, message: 'Ref {ref} is locked by another update' },
  REPO_LOCKED: { status: 423, message: 'Repository is locked by a concurrent update' },
  STALE_REF: { status: 409, message: 'Ref {ref} changed concurrently (expected {expected})' },
  REF_CONFLICT: { status: 409, message: 'Cannot change {ref}: {reason}' },

  // CLI / configuration
  CONFIG: { status: 400, message: 'Invalid configuration: {detail}' },
  DATA_DIR_LOCKED: { status: 409, message: 'Data directory {dir} is in use by gitgate serve (pid {pid} on {host}, since {since}); stop that server first, or delete {file} if that process is gone' },

  DATA_DIR_MISSING: { status: 404, message: 'Data directory {dir} does not exist; check --data / GITGATE_DATA, or pass --init to create it' },
  DIR_NOT_EMPTY: { status: 409, message: '{dir} is not empty; {hint}' },
  NOT_A_BACKUP: { status: 400, message: '{dir} is not a gitgate backup: {detail}' },

  INTERNAL: { status: 500, message: 'Internal server error' },
  DB_TOO_NEW: { status: 500, message: 'Database schema version {found} is newer than this gitgate understands ({supported}); upgrade gitgate' },

  // content API: imports from remote Git repositories, merges, branches
  SOURCE_UNREACHABLE: { status: 502, message: 'The source repository {url} is unreachable' },
  SOURCE_FORBIDDEN: { status: 400, message: 'The source {url} may not be fetched: {reason}' },
  SOURCE_NOT_GIT: { status: 400, message: 'The source {url} is not a Git repository served over smart HTTP' },
  SOURCE_ACCESS_DENIED: { status: 400, message: 'The source repository {url} refused access (HTTP {status}); check the credentials in the URL' },
  SOURCE_BRANCH_NOT_FOUND: { status: 400, message: 'Branch {branch} not found in the source repository {url}' },
  SOURCE_TOO_LARGE: { status: 413, message: 'The source repository exceeds the import limit of {limit} bytes' },
  SOURCE_PROTOCOL: { status: 502, message: 'The source repository {url} sent an invalid response: {detail}' },
  MERGE_CONFLICT: { status: 409, message: 'Cannot merge {source} into {branch}: {detail}' },
  BRANCH_NOT_FOUND: { status: 404, message: 'Branch not found: {branch}' },
  NOT_FAST_FORWARD: { status: 409, message: 'Cannot fast-forward {branch} to {head}: it has commits {head} does not contain' },

  // refs API (branches and tags over REST)
  REF_NOT_FOUND: { status: 404, message: 'Ref not found: {ref}' },
  REF_EXISTS: { status: 409, message: 'Ref {ref} already exists' },
  NO_MERGE_BASE: { status: 404, message: 'No common ancestor between {base} and {head}' },

  // hardening: rate limits, throttling, shutdown
  TOO_MANY_REQUESTS: { status: 429, message: 'Too many concurrent requests for this token (limit {limit}); retry in {seconds} second(s)' },
  AUTH_THROTTLED: { status: 429, message: 'Too many failed authentication attempts from your address; retry in {seconds} seconds' },
  UNAVAILABLE: { status: 503, message: 'Service unavailable: {detail}' },

  // push events: webhooks and the events feed
  WEBHOOK_NOT_FOUND: { status: 404, message: 'Webhook not found' },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERRORS;

export class GitgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly params: Record<string, string | number>;
  /** Structured fields for REST bodies beside code and message (e.g. MERGE_CONFLICT's `conflicts`). */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, params: Record<string, string | number> = {}, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(format(ERRORS[code].message, params), options);
    this.name = 'GitgateError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.params = params;
    if (options?.details) this.details = options.details;
  }

  toJSON(): { error: { code: string; message: string } & Record<string, unknown> } {
    return { error: { ...this.details, code: this.code, message: this.message } };
  }
}

export function isGitgateError(err: unknown, code?: ErrorCode): err is GitgateError {
  return err instanceof GitgateError && (code === undefined || err.code === code);
}

// Parameters often echo what the client sent (paths, names): never a secret among them.
function format(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => (key in params ? redactSecrets(String(params[key])) : `{${key}}`));
}
