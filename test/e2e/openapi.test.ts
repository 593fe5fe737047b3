// The OpenAPI document and the Express routes must describe the same API: every route is
// documented, every documented operation exists, and the document is served without auth.
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/http/app.js';
import { openApiDocument } from '../../src/http/openapi.js';
import { createContext, type Context } from '../../src/service/context.js';

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
  let ctx: Context;
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    ctx = createContext(loadConfig({ memory: true }, {}), pino({ level: 'silent' }));
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
