// OpenAPI paths and schemas of push events (webhooks, the events feed), spread into the
// document by src/http/openapi.ts. Plain JSON: no helpers shared with openapi.ts (no cycle).
import { EVENT_TYPES } from '../events/event.js';

const err = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
const json = (description: string, name: string) => ({ description, content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } } });
const hookId = { name: 'id', in: 'path', required: true, description: 'Webhook id (wh_…)', schema: { type: 'string' } };
const E401 = err('Missing, unknown, expired or revoked token');
const E403 = err('The token is not an admin token');
const E404 = err('Webhook (or repository) not found or not visible to the token');

export const eventSchemas = {
  Event: {
    type: 'object',
    description:
      'One event of the stream. push: data {ref, before, after, created, deleted, ref_updates: [{ref, before, after, created, deleted}], repository: {id}, pusher: {token_id}} (40 zeros for "no commit", as GitHub); ref.update: data {ref, before, after, created, deleted, via}; repo.create/repo.delete: data {repository: {id, name}, …}; token.*: data {token_id, kind, permission, name, …} (never a secret).',
    properties: {
      id: { type: 'string', description: 'The cursor: an increasing decimal integer' },
      type: { type: 'string', enum: [...EVENT_TYPES] },
      created_at: { type: 'string' },
      repo_id: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      repo_ids: { type: 'array', items: { type: 'string' } },
      actor_token_id: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      data: { type: 'object' },
    },
    required: ['id', 'type', 'created_at', 'repo_id', 'repo_ids', 'actor_token_id', 'data'],
  },
  EventPage: {
    type: 'object',
    properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Event' } }, cursor: { type: 'string', description: 'Pass as after= next time' } },
    required: ['items', 'cursor'],
  },
  Webhook: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      url: { type: 'string' },
      repo_id: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      events: { type: 'array', items: { type: 'string' } },
      created_by: { type: 'string', description: 'Id of the token that created it; the webhook sees what that token sees' },
      created_at: { type: 'string' },
      active: { type: 'boolean', description: 'False once the creating token is revoked or expired: nothing is delivered any more' },
    },
    required: ['id', 'url', 'repo_id', 'events', 'created_by', 'created_at', 'active'],
  },
  WebhookList: {
    type: 'object',
    properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Webhook' } }, total_items: { type: 'integer' }, next_page: { anyOf: [{ type: 'integer' }, { type: 'null' }] } },
    required: ['items', 'total_items'],
  },
  WebhookAttempt: {
    type: 'object',
    properties: {
      delivery_id: { type: 'string', description: 'X-Gitgate-Delivery (the same for every attempt of a delivery)' },
      event: { type: 'string' },
      event_id: { type: 'string' },
      attempt: { type: 'integer', minimum: 1 },
      at: { type: 'string' },
      status_code: { anyOf: [{ type: 'integer' }, { type: 'null' }], description: 'null when no response arrived' },
      duration_ms: { type: 'integer' },
      error: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      success: { type: 'boolean' },
      state: { type: 'string', enum: ['pending', 'delivered', 'failed'], description: "The delivery's state now" },
    },
    required: ['delivery_id', 'event', 'event_id', 'attempt', 'at', 'status_code', 'duration_ms', 'error', 'success', 'state'],
  },
  WebhookAttemptList: {
    type: 'object',
    properties: { items: { type: 'array', items: { $ref: '#/components/schemas/WebhookAttempt' } }, total_items: { type: 'integer' }, next_page: { anyOf: [{ type: 'integer' }, { type: 'null' }] } },
    required: ['items', 'total_items'],
  },
};

/** Prose for the generated request components (see requestDocs in openapi.ts). */
export const eventRequestDocs: Record<string, Record<string, string>> = {
  WebhookCreate: {
    url: 'http(s) URL; no credentials; must pass the server-side request policy (GITGATE_WEBHOOK_ALLOW_NETWORKS)',
    repo_id: 'Only events of this repository (needs admin on it). Omitted: every repository the creator may read, judged at each event',
    events: `Event types (${EVENT_TYPES.join(', ')}), prefix patterns like token.*, or * (default ["push"])`,
    secret: 'HMAC key for X-Gitgate-Signature-256. Write-only: never returned',
  },
};

/** Prose for the generated query parameters, by operation (see queryDocs in openapi.ts). */
export const eventQueryDocs: Record<string, Record<string, string>> = {
  'GET /v1/events': {
    after: 'Cursor: events with a larger id (default 0)',
    wait: 'Long poll: seconds to wait for an event when there is none',
    limit: 'Items per page',
  },
};

export const eventPaths = {
  '/v1/events': {
    get: {
      tags: ['events'],
      summary: 'The event stream (long poll, or Server-Sent Events)',
      description:
        'Events after the cursor that the token may see, oldest first: repository events of repositories it may read, token events of tokens it may see. With wait, answers as soon as such an event is recorded (or after wait seconds with no items). With Accept: text/event-stream, an SSE stream (id: cursor, event: type, data: the Event; Last-Event-ID resumes) until the client leaves, the server shuts down or the token is revoked.',
      parameters: [
        { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' }, description: 'SSE resume: overrides after' },
      ],
      responses: {
        200: { description: 'A page, or an SSE stream', content: { 'application/json': { schema: { $ref: '#/components/schemas/EventPage' } }, 'text/event-stream': { schema: { type: 'string' } } } },
        400: err('Bad cursor, wait or limit'),
        401: E401,
      },
    },
  },
  '/v1/webhooks': {
    post: {
      tags: ['events'],
      summary: 'Create a webhook (admin tokens)',
      description:
        'Workspace admins: any repository or all. Repository admins: a repository in their scope (repo_id) or, without repo_id, the repositories of their scope. Deliveries are POSTs of the Event JSON signed with X-Gitgate-Signature-256: sha256=<hex HMAC-SHA256 of the body with the secret>, with X-Gitgate-Event, X-Gitgate-Delivery, X-Gitgate-Hook-ID, User-Agent gitgate-Hookshot/…; retried with exponential backoff for a day. A loopback, private or link-local destination is 400 SOURCE_FORBIDDEN unless GITGATE_WEBHOOK_ALLOW_NETWORKS allows it.',
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/WebhookCreate' } } } },
      responses: { 201: json('Created (without the secret)', 'Webhook'), 400: err('Invalid body, unknown event, or SOURCE_FORBIDDEN'), 401: E401, 403: E403, 404: err('Repository not found or outside the token scope') },
    },
    get: {
      tags: ['events'],
      summary: 'List the webhooks the token may manage',
      responses: { 200: json('A page', 'WebhookList'), 400: err('Bad paging'), 401: E401, 403: E403 },
    },
  },
  '/v1/webhooks/{id}': {
    get: { tags: ['events'], summary: 'A webhook (never its secret)', parameters: [hookId], responses: { 200: json('The webhook', 'Webhook'), 401: E401, 404: E404 } },
    delete: { tags: ['events'], summary: 'Delete a webhook and its pending deliveries', parameters: [hookId], responses: { 204: { description: 'Deleted' }, 401: E401, 404: E404 } },
  },
  '/v1/webhooks/{id}/deliveries': {
    get: {
      tags: ['events'],
      summary: 'Delivery attempts, newest first',
      parameters: [hookId],
      responses: { 200: json('A page', 'WebhookAttemptList'), 400: err('Bad paging'), 401: E401, 404: E404 },
    },
  },
};
