// The `events` of a webhook: event types (push, ref.update, token.create…), `prefix.*`
// (token.*, repo.*) or `*` for every event.
import { EVENT_TYPES } from '../events/event.js';

export const MAX_EVENT_PATTERNS = 32;

/** Why `pattern` is not a valid event pattern, or null. */
export function eventPatternProblem(pattern: string): string | null {
  if (pattern === '*' || (EVENT_TYPES as readonly string[]).includes(pattern)) return null;
  if (pattern.endsWith('.*') && EVENT_TYPES.some((t) => t.startsWith(pattern.slice(0, -1)))) return null;
  return `unknown event ${JSON.stringify(pattern.slice(0, 100))}: use one of ${EVENT_TYPES.join(', ')}, a prefix like token.*, or *`;
}

export function matchesEvent(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}
