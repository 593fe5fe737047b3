// The OpenAPI document and the Express routes must describe the same API: every route is
// documented, every documented operation exists, and the document is served without auth.
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/http/app.js';
import { openApiDocument } from '../../src/http/openapi.js';
import { createServices, type Services } from '../../src/service/services.js';
import { REQUEST_BODIES } from '../../src/http/request-schemas.js';
import { MAX_MAX_RESULTS } from '../../src/service/content/code-search.js';
import { z } from 'zod';
import { diskState, startTestServer, type TestServer } from '../helpers/server.js';

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every (method, path) the app routes, walking nested routers; Express syntax turned into OpenAPI templates. */
function routesOf(stack: Layer[]): Set<string> {
  const out = new Set<string>();
  const walk = (layers: Layer[]) => {
    for (const layer of layers) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths) {
          if (typeof p === 'string' && (p === '/ui' || p.startsWith('/ui/'))) continue; // the web console: HTML pages, not the API
          for (const [method, on] of Object.entries(layer.route.methods)) {
            if (!on || method === '_all') continue;
            out.add(`${method.toUpperCase()} ${toTemplate(p)}`);
          }
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk(stack);
  return out;
}

function toTemplate(expressPath: string): string {
  if (typeof expressPath !== 'string') throw new Error(`unsupported route path ${String(expressPath)}`);
  return expressPath.replace(/[:*]([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function documented(): Set<string> {
  const out = new Set<string>();
  for (const [p, item] of Object.entries(openApiDocument.paths)) {
    for (const m of Object.keys(item)) if (METHODS.includes(m)) out.add(`${m.toUpperCase()} ${p}`);
  }
  return out;
}

describe('OpenAPI document', () => {
  let ctx: Services;
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    ctx = createServices(loadConfig({ memory: true }, {}), pino({ level: 'silent' }));
    app = createApp(ctx);
    // The REST routers load on the first request that reaches them (src/http/app.ts): a 404 loads them all.
    await request(app).get('/v1/no-such-route');
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('documents every route and only routes that exist', () => {
    const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
    const routes = routesOf(stack);
    expect(routes.size).toBeGreaterThan(15);
    expect(routes).toContain('PUT /v1/repo/{id}/file/{path}');
    expect(routes).toContain('GET /healthz');
    const docs = documented();
    const undocumented = [...routes].filter((r) => !docs.has(r));
    const phantom = [...docs].filter((d) => !routes.has(d));
    expect(undocumented, 'routes missing from src/http/openapi.ts').toEqual([]);
    expect(phantom, 'documented operations without a route').toEqual([]);
  });

  it('declares every path parameter and a response for every operation', () => {
    for (const [p, item] of Object.entries(openApiDocument.paths) as [string, Record<string, { parameters?: { name: string; in: string }[]; responses?: object }>][]) {
      const templated = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(item)) {
        const declared = (op.parameters ?? []).filter((x) => x.in === 'path').map((x) => x.name);
        expect(declared.sort(), `${method} ${p}`).toEqual([...templated].sort());
        expect(Object.keys(op.responses ?? {}).length, `${method} ${p}`).toBeGreaterThan(0);
      }
    }
    // every $ref resolves
    const text = JSON.stringify(openApiDocument);
    for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
      expect(openApiDocument.components.schemas, m[1]).toHaveProperty(m[1]!);
    }
  });

  it('is served at /v1/openapi.json without credentials', async () => {
    const res = await request(app).get('/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(Object.keys(res.body.paths)).toContain('/v1/repo/{id}/update');
    expect(res.body.components.schemas.Error.properties.error.properties.code.enum).toContain('FILE_NOT_FOUND');
  });
});

type JsonSchema = Record<string, unknown> & { properties?: Record<string, JsonSchema>; description?: string };

/** The document's component without the prose the document adds (descriptions), to compare shapes and limits. */
function withoutProse(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutProse);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'description' && k !== '$schema').map(([k, v]) => [k, withoutProse(v)]));
  }
  return value;
}

/** Every JSON request body the document declares: `${METHOD} ${path}` → component name. */
function documentedBodies(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [p, item] of Object.entries(openApiDocument.paths) as [string, Record<string, { requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> } }>][]) {
    for (const [method, op] of Object.entries(item)) {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      if (schema?.$ref) out.set(`${method.toUpperCase()} ${p}`, schema.$ref.replace('#/components/schemas/', ''));
    }
  }
  return out;
}

describe('OpenAPI request schemas are the zod schemas the routes validate with', () => {
  const components = openApiDocument.components.schemas as unknown as Record<string, JsonSchema>;

  it('each request component equals z.toJSONSchema of its zod schema (descriptions aside)', () => {
    expect(Object.keys(REQUEST_BODIES).length).toBeGreaterThanOrEqual(13);
    for (const [name, schema] of Object.entries(REQUEST_BODIES)) {
      const expected = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
      expect(withoutProse(components[name]), name).toEqual(withoutProse(expected));
    }
  });

  it('every JSON request body the document declares is one of the generated components', () => {
    const bodies = documentedBodies();
    expect(bodies.size).toBeGreaterThanOrEqual(13);
    for (const [op, name] of bodies) {
      if (op === 'POST /mcp') continue; // JSON-RPC: validated by the MCP SDK, not by a gitgate schema
      expect(Object.keys(REQUEST_BODIES), op).toContain(name);
    }
    expect(new Set(bodies.values())).toEqual(new Set(Object.keys(REQUEST_BODIES)));
  });

  it('carries the limits the routes enforce', () => {
    const token = components.RepoTokenCreate!.properties!;
    expect(token.repo_ids).toMatchObject({ minItems: 1, maxItems: 1000 });
    expect(token.name).toMatchObject({ maxLength: 200 });
    expect(components.WorkspaceTokenCreate!.properties!.name).toMatchObject({ maxLength: 200 });
    expect(components.ApiKeyCreate!.properties!.name).toMatchObject({ maxLength: 200 });
    expect(components.AgentRequest!.properties!.agent_name).toMatchObject({ maxLength: 200 });
    expect(components.TokenRotate!.properties!.grace_seconds).toMatchObject({ minimum: 0, maximum: 604800 });
    expect(components.ProtectedRefs!.properties!.patterns).toMatchObject({ maxItems: 100 });
    expect(components.WebhookCreate!.properties!.url).toMatchObject({ minLength: 1, maxLength: 2048 });
    expect(components.MergeRequest!.properties!.base).toMatchObject({ minLength: 1, maxLength: 1024 });
    expect(components.SearchRequest!.properties!.max_results).toMatchObject({ minimum: 1, maximum: MAX_MAX_RESULTS });
    // one git URL schema: create and update import with the same limits
    const gitUrl = (name: string) => {
      const source = components[name]!.properties!.source as { anyOf: JsonSchema[] };
      const variants = (source.anyOf[0] as { oneOf?: JsonSchema[]; anyOf?: JsonSchema[] });
      const git = (variants.oneOf ?? variants.anyOf)!.find((v) => (v.properties!.type as { const?: string }).const === 'git')!;
      return git.properties!.url;
    };
    expect(gitUrl('RepoCreate')).toEqual(gitUrl('RepoUpdate'));
    expect(gitUrl('RepoCreate')).toMatchObject({ minLength: 1, maxLength: 8192 });
  });

  describe('a request over a documented limit gets 400', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer('memory');
    });
    afterAll(async () => {
      await server.close();
    });
    const auth = () => ({ Authorization: `Bearer ${server.admin}` });
    const maxOf = (name: string, prop: string, key: 'maxItems' | 'maxLength' | 'maximum') => components[name]!.properties![prop]![key] as number;

    it('repo_ids: maxItems + 1', async () => {
      const repo = await server.createRepo();
      const at = (n: number) => Array.from({ length: n }, () => repo);
      const over = await server.api.post('/v1/repo_token').set(auth()).send({ repo_ids: at(maxOf('RepoTokenCreate', 'repo_ids', 'maxItems') + 1) });
      expect(over.status).toBe(400);
      expect(over.body.error.code).toBe('VALIDATION');
      expect(over.body.error.message).toMatch(/repo_ids/);
      const at_limit = await server.api.post('/v1/repo_token').set(auth()).send({ repo_ids: at(maxOf('RepoTokenCreate', 'repo_ids', 'maxItems')) });
      expect(at_limit.status).toBe(201);
    });

    it('token name: maxLength + 1', async () => {
      const n = maxOf('WorkspaceTokenCreate', 'name', 'maxLength');
      const over = await server.api.post('/v1/workspace_token').set(auth()).send({ name: 'n'.repeat(n + 1), permission: 'read' });
      expect(over.status).toBe(400);
      expect(over.body.error.message).toMatch(/name/);
      const ok = await server.api.post('/v1/workspace_token').set(auth()).send({ name: 'n'.repeat(n), permission: 'read' });
      expect(ok.status).toBe(201);
    });

    it('rotate grace_seconds over its maximum, a git URL over its maxLength', async () => {
      const minted = await server.mint({ repo_ids: [await server.createRepo()], permission: 'read' });
      const rot = await server.api.post(`/v1/repo_token/${minted.id}/rotate`).set(auth()).send({ grace_seconds: maxOf('TokenRotate', 'grace_seconds', 'maximum') + 1 });
      expect(rot.status).toBe(400);
      expect(rot.body.error.message).toMatch(/grace_seconds/);
      const url = 'https://example.invalid/' + 'a'.repeat(8192);
      const create = await server.api.post('/v1/repo').set(auth()).send({ source: { type: 'git', url } });
      expect(create.status).toBe(400);
      expect(create.body.error.code).toBe('VALIDATION');
      expect(create.body.error.message).toMatch(/url/);
    });
  });
});

// The query parameters of the document are generated from the schemas the routes validate with;
// this walks every documented query parameter of every operation against the running server:
// each value the document allows is accepted, each value it rules out is a 400 that changes nothing.
describe('documented query parameters are what the routes accept', () => {
  interface Param { name: string; in: string; required?: boolean; schema: JsonSchema & { anyOf?: JsonSchema[] } }
  let s: TestServer;
  let repo: string;
  let branch: string;
  let hook: string;
  beforeAll(async () => {
    s = await startTestServer('fs', { GITGATE_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8' });
    repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    branch = (await s.api.get(`/v1/repo/${repo}`).set(auth())).body.default_branch as string;
    // never delivered: no repo.delete happens here
    const created = await s.api.post('/v1/webhooks').set(auth()).send({ url: 'http://127.0.0.1:9/hook', secret: 's', events: ['repo.delete'] });
    expect(created.status).toBe(201);
    hook = created.body.id as string;
  });
  afterAll(async () => {
    await s.close();
  });
  const auth = () => ({ Authorization: `Bearer ${s.admin}` });
  const head = async () => (await s.api.get(`/v1/repo/${repo}/refs`).set(auth())).body.items.find((r: { ref: string }) => r.ref === `refs/heads/${branch}`).commit as string;

  /** The non-null alternative of a nullable schema. */
  const plain = (schema: Param['schema']): JsonSchema => (schema.anyOf ? schema.anyOf.find((x) => x.type !== 'null')! : schema) as JsonSchema;

  /** Values the document allows: every enum member, integer bounds and default, both booleans; strings by meaning. */
  async function allowed(p: Param): Promise<string[]> {
    const sc = plain(p.schema);
    if (Array.isArray(sc.enum)) return (sc.enum as string[]).map(String);
    if (sc.type === 'integer') return [sc.minimum, sc.maximum, sc.default].filter((v) => v !== undefined).map(String);
    if (sc.type === 'boolean') return ['true', 'false'];
    const byName: Record<string, () => Promise<string> | string> = {
      commit: head,
      hash: head,
      expected_head: head,
      branch: () => branch,
      base: () => branch,
      prefix: () => 'refs/heads/',
      repo_id: () => repo,
      created_after: () => '2000-01-01T00:00:00Z',
      created_before: () => '2999-01-01T00:00:00Z',
      filter_metadata: () => '{}',
      after: () => '0',
    };
    expect(byName, `a sample value for the string parameter ${p.name}`).toHaveProperty(p.name);
    const value = await byName[p.name]!();
    // the sample itself must be a value the document allows
    if (typeof sc.pattern === 'string') expect(value).toMatch(new RegExp(sc.pattern));
    if (typeof sc.maxLength === 'number') expect(value.length).toBeLessThanOrEqual(sc.maxLength);
    return [value];
  }

  /** Values the document rules out: past each bound, outside the enum, not the type, against the pattern. */
  function refused(p: Param): string[] {
    const sc = plain(p.schema);
    const out: string[] = [];
    if (Array.isArray(sc.enum)) out.push('no-such-value');
    if (sc.type === 'integer') {
      out.push('x', '1.5');
      if (typeof sc.minimum === 'number') out.push(String(sc.minimum - 1));
      if (typeof sc.maximum === 'number') out.push(String(sc.maximum + 1));
    }
    if (sc.type === 'boolean') out.push('maybe');
    if (typeof sc.maxLength === 'number') out.push('a'.repeat(sc.maxLength + 1));
    if (typeof sc.minLength === 'number' && sc.minLength > 0) out.push('');
    if (typeof sc.pattern === 'string') out.push(['x', '-1', 'zz'].find((v) => !new RegExp(sc.pattern as string).test(v))!);
    return out;
  }

  /** The required parameters of an operation, each at its first allowed value. */
  const requiredOf = async (params: Param[]) => Object.fromEntries(await Promise.all(params.filter((x) => x.required).map(async (x) => [x.name, (await allowed(x))[0]!] as const)));

  function url(template: string, query: Record<string, string>): string {
    const filled = template
      .replace('{id}', template.startsWith('/v1/webhooks') ? hook : repo)
      .replace('{path}', 'a.txt')
      .replace('{spec}', `${branch}...${branch}`);
    return `${filled}?${new URLSearchParams(query).toString()}`;
  }

  /** Something to delete, so an accepted DELETE of a file is 200. */
  async function prepare(method: string, template: string): Promise<void> {
    if (method !== 'delete' || !template.includes('{path}')) return;
    const put = await s.api.put(url(template, {})).set(auth()).set('Content-Type', 'application/octet-stream').send(Buffer.from('a\n'));
    expect(put.status).toBe(200);
  }

  /** One request; `query` is built just before it is sent (an expected_head must be the head of that moment). */
  async function call(method: string, template: string, query: () => Promise<Record<string, string>>) {
    await prepare(method, template);
    return send(method, template, await query());
  }

  function send(method: string, template: string, query: Record<string, string>) {
    const req = (s.api as unknown as Record<string, (u: string) => request.Test>)[method]!(url(template, query)).set(auth());
    if (method === 'put') return req.set('Content-Type', 'application/octet-stream').send(Buffer.from(`x ${Math.random()}\n`));
    if (method === 'post') return req.send({});
    return req;
  }

  function operations(): { method: string; path: string; params: Param[] }[] {
    const out = [];
    for (const [p, item] of Object.entries(openApiDocument.paths) as [string, Record<string, { parameters?: Param[] }>][]) {
      for (const [method, op] of Object.entries(item)) {
        const params = (op.parameters ?? []).filter((x) => x.in === 'query');
        if (params.length) out.push({ method, path: p, params });
      }
    }
    return out;
  }

  it('covers the operations the routes read a query string in', () => {
    const ops = operations().map((o) => `${o.method.toUpperCase()} ${o.path}`);
    expect(ops).toEqual(expect.arrayContaining(['GET /v1/repo', 'GET /v1/audit', 'GET /v1/events', 'GET /v1/repo/{id}/info/refs', 'PUT /v1/repo/{id}/file/{path}']));
    expect(ops.length).toBeGreaterThanOrEqual(15);
  });

  it('accepts every value the document allows', async () => {
    let calls = 0;
    for (const { method, path: p, params } of operations()) {
      for (const param of params) {
        for (let i = 0; i < (await allowed(param)).length; i++) {
          let value = '';
          const res = await call(method, p, async () => {
            value = (await allowed(param))[i]!;
            return { ...(await requiredOf(params)), [param.name]: value };
          });
          calls++;
          expect(res.status, `${method.toUpperCase()} ${p} ${param.name}=${value}: ${JSON.stringify(res.body)}`).toBe(200);
        }
      }
    }
    expect(calls).toBeGreaterThan(40);
    await s.fsck(repo);
  });

  it('refuses every value the document rules out with 400, changing nothing', async () => {
    let calls = 0;
    for (const { method, path: p, params } of operations()) {
      const required = await requiredOf(params);
      for (const param of params) {
        for (const value of refused(param)) {
          const before = await diskState(s, repo);
          const res = await send(method, p, { ...required, [param.name]: value });
          calls++;
          const what = `${method.toUpperCase()} ${p} ${param.name}=${value.slice(0, 40)}`;
          expect(res.status, what).toBe(400);
          // JSON errors carry the code; the Git routes answer Git clients in text
          expect(res.body.error?.code ?? res.text, what).toMatch(/^VALIDATION$|^Invalid request|^Unknown service/);
          if (method !== 'get') expect(await diskState(s, repo), what).toEqual(before);
        }
        if (param.required) {
          const { [param.name]: _omitted, ...rest } = required;
          // 403 DUMB_PROTOCOL: info/refs without ?service= is a dumb-HTTP client
          expect([400, 403], `${method.toUpperCase()} ${p} without ${param.name}`).toContain((await send(method, p, rest)).status);
        }
      }
    }
    expect(calls).toBeGreaterThan(40);
    await s.fsck(repo);
  });
});
