// Pulls a token out of an Authorization header: Bearer, or Basic with the token as password
// (any user name) or as user name with an empty (or non-token) password.
import { looksLikeSecret } from '../auth/token-format.js';

export function extractToken(header: string | undefined): string | null {
  if (!header) return null;
  const space = header.indexOf(' ');
  if (space < 0) return null;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer' || scheme === 'token') return value || null;
  if (scheme !== 'basic') return null;
  let decoded: string;
  try {
    decoded = Buffer.from(value, 'base64').toString('utf8');
  } catch {
    return null;
  }
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  const pass = colon < 0 ? '' : decoded.slice(colon + 1);
  if (pass && looksLikeSecret(pass)) return pass;
  if (user && looksLikeSecret(user)) return user;
  return pass || user || null;
}
