// zod schemas -> GitgateError('VALIDATION') with a readable detail.
import { z } from 'zod';
import { GitgateError } from '../errors.js';

export function parseWith<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  throw new GitgateError('VALIDATION', { detail: `${where}${issue.message}` });
}

/** Query-string integers and booleans arrive as strings. */
const toNumber = (v: unknown) => (typeof v === 'string' && v !== '' ? Number(v) : v);
/**
 * An integer in [min, max] (max omitted: no upper bound; `fallback` when absent), from a query
 * string or JSON. The range and default sit inside the preprocess so the generated JSON Schema
 * shows them; one message for every failure.
 */
export const queryIntIn = (min: number, max?: number, fallback?: number) => {
  const error = max === undefined ? (min === 0 ? 'must be a non-negative integer' : `must be an integer of at least ${min}`) : `must be an integer from ${min} to ${max}`;
  const int = z.number({ error }).int({ error }).min(min, { error });
  const ranged = max === undefined ? int : int.max(max, { error });
  return z.preprocess(toNumber, fallback === undefined ? ranged : ranged.default(fallback));
};
export const queryBool = z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());
export const metadataSchema = z.record(z.string(), z.string()).nullable().optional();
