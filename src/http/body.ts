// JSON request bodies, read by the handler once authentication and the route's permission
// checks have passed: an unauthenticated or unauthorised client never makes the server buffer
// or parse a byte of its body (the error response closes the connection instead).
import express, { type Request, type Response } from 'express';
import type { Services } from '../service/services.js';

export type BodyReader = (req: Request, res: Response) => Promise<unknown>;

/** A reader for application/json bodies up to GITGATE_MAX_JSON_BYTES; other content types
 *  (and no body) read as `{}`, as the REST routes have always treated them. */
export function jsonBodyReader(ctx: Services): BodyReader {
  const parse = express.json({ limit: ctx.config.maxJsonBytes, type: ['application/json', 'application/*+json'] });
  return (req, res) =>
    new Promise((resolve, reject) => {
      parse(req, res, (err?: unknown) => (err ? reject(err) : resolve(req.body ?? {})));
    });
}

/** Largest web-console form (a token, a CSRF token, a few fields). */
export const MAX_FORM_BYTES = 16 * 1024;

/** A reader for the web console's application/x-www-form-urlencoded forms (flat string fields);
 *  other content types read as `{}` (and then fail the form's CSRF check). */
export function formBodyReader(): (req: Request, res: Response) => Promise<Record<string, unknown>> {
  const parse = express.urlencoded({ extended: false, limit: MAX_FORM_BYTES, parameterLimit: 20, type: 'application/x-www-form-urlencoded' });
  return (req, res) =>
    new Promise((resolve, reject) => {
      parse(req, res, (err?: unknown) => (err ? reject(err) : resolve((req.body ?? {}) as Record<string, unknown>)));
    });
}
