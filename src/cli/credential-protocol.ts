// Git's credential-helper wire format (`man git-credential`, "INPUT/OUTPUT FORMAT"):
// `key=value` lines, ended by a blank line or end of input. Keys ending in `[]` may repeat
// (an empty value clears the list); `url=` stands for its parts (protocol, host, path,
// username, password). Values never contain a newline or NUL.

export interface Credential {
  /** single-valued attributes (protocol, host, path, username, password, ...), last one wins */
  attrs: Record<string, string>;
  /** multi-valued attributes, key without the trailing `[]` (capability, wwwauth, ...) */
  lists: Record<string, string[]>;
}

export class CredentialProtocolError extends Error {}

/** Parse the text git writes to a helper. Stops at the first blank line. */
export function parseCredential(text: string): Credential {
  const cred: Credential = { attrs: Object.create(null) as Record<string, string>, lists: Object.create(null) as Record<string, string[]> };
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') break;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new CredentialProtocolError(`invalid credential line: ${JSON.stringify(line.slice(0, 40))}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key.includes('\0') || value.includes('\0')) throw new CredentialProtocolError('NUL in a credential line');
    if (key.endsWith('[]')) {
      const name = key.slice(0, -2);
      if (value === '') cred.lists[name] = [];
      else (cred.lists[name] ??= []).push(value);
    } else if (key === 'url') {
      applyUrl(cred, value);
    } else {
      cred.attrs[key] = value;
    }
  }
  return cred;
}

/** `url=` as git reads it: every part the URL has overrides the attribute; a part it lacks
 *  is cleared (git resets the whole credential before parsing the URL). */
function applyUrl(cred: Credential, value: string): void {
  for (const k of ['protocol', 'host', 'path', 'username', 'password']) delete cred.attrs[k];
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(value);
  if (!m) throw new CredentialProtocolError('url= is not an absolute URL');
  cred.attrs.protocol = m[1]!.toLowerCase();
  let authority = m[2]!;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    cred.attrs.username = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
    if (colon >= 0) cred.attrs.password = decode(userinfo.slice(colon + 1));
  }
  if (authority !== '') cred.attrs.host = decode(authority);
  // git keeps the path without its leading slash (and without query or fragment)
  const path = m[3]!.replace(/[?#].*$/, '').replace(/^\/+/, '');
  if (path !== '') cred.attrs.path = decode(path);
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Format attributes for git: one `key=value` line each, values checked. */
export function formatCredential(attrs: Record<string, string | number | undefined>): string {
  let out = '';
  for (const [key, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    const value = String(v);
    if (!/^[A-Za-z0-9_.[\]-]+$/.test(key)) throw new CredentialProtocolError(`bad credential key ${JSON.stringify(key)}`);
    if (/[\n\r\0]/.test(value)) throw new CredentialProtocolError(`credential value for ${key} contains a newline or NUL`);
    out += `${key}=${value}\n`;
  }
  return out;
}

/** Read a credential description from a stream: until a blank line or end of input. */
export async function readCredential(stream: NodeJS.ReadableStream, maxBytes = 1 << 20): Promise<Credential> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.length > maxBytes) throw new CredentialProtocolError('credential input too large');
    if (/(^|\n)\r?\n/.test(text)) break;
  }
  return parseCredential(text);
}
