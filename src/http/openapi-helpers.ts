// The small JSON Schema builders the hand-written parts of the OpenAPI document share
// (openapi.ts, openapi-agent.ts): references, strings, nullables, objects, JSON responses.

export type Schema = Record<string, unknown>;

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
export const str = (description?: string, extra: Schema = {}): Schema => ({ type: 'string', ...(description ? { description } : {}), ...extra });
export const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }] });
export const obj = (properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  ...(required.length ? { required } : {}),
  ...extra,
});
export const jsonResponse = (description: string, schema: Schema) => ({ description, content: { 'application/json': { schema } } });
