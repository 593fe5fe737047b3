// Repository records: their shape and the rules every RepoStore applies (name, metadata,
// paging, dates). The bare Git repository on disk is the storage layer's business; a record
// holds identity, name, metadata and timestamps.
import { GitgateError } from '../errors.js';
import { normaliseIso } from './time.js';

export type { RepoListQuery, RepoPage, RepoRow } from './records.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

// Names appear in URLs (`/v1/repo/<name>.git`), so keep them to URL-safe characters and
// forbid a `.git` ending, which the router strips.
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;

export function validateRepoName(name: string): void {
  if (!NAME_PATTERN.test(name) || name.endsWith('.git')) {
    throw new GitgateError('VALIDATION', {
      detail: 'repository name must be 1-100 characters of letters, digits, ".", "_" or "-", not start with "." or "-", and not end in ".git"',
    });
  }
}

export function validateMetadata(metadata: unknown): asserts metadata is Record<string, string> {
  const ok =
    typeof metadata === 'object' &&
    metadata !== null &&
    !Array.isArray(metadata) &&
    Object.values(metadata).every((v) => typeof v === 'string');
  if (!ok) throw new GitgateError('VALIDATION', { detail: 'metadata must be an object of string values' });
}

/** page_size and page_start of a repository listing, defaulted and checked. */
export function repoPaging(q: { page_size?: number; page_start?: number }): { pageSize: number; pageStart: number } {
  const pageSize = q.page_size ?? DEFAULT_PAGE_SIZE;
  const pageStart = q.page_start ?? 0;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new GitgateError('VALIDATION', { detail: `page_size must be an integer from 1 to ${MAX_PAGE_SIZE}` });
  }
  if (!Number.isInteger(pageStart) || pageStart < 0) {
    throw new GitgateError('VALIDATION', { detail: 'page_start must be a non-negative integer' });
  }
  return { pageSize, pageStart };
}

/** A created_after/created_before filter in the stored form. */
export function isoParam(field: string, value: string): string {
  const iso = normaliseIso(value);
  if (iso === null) throw new GitgateError('VALIDATION', { detail: `${field} is not a valid date-time` });
  return iso;
}
