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
export const queryInt = z.preprocess(toNumber, z.number().int());
/** queryInt within [min, max]; the range sits inside the preprocess so the generated JSON Schema shows it. */
export const queryIntIn = (min: number, max: number) => z.preprocess(toNumber, z.number().int().min(min).max(max));
export const queryBool = z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());
export const metadataSchema = z.record(z.string(), z.string()).nullable().optional();
