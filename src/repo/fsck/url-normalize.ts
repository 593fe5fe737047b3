// url_normalize and url_decode (urlmatch.c, url.c), for the submodule URL check: git refuses
// a .gitmodules URL its HTTP transport could not normalize or that decodes to a newline.
// latin1 strings, one character per byte.

const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DIGIT = '0123456789';
const SCHEME_CHARS = ALPHA + DIGIT + '+.-';
const HOST_CHARS = ALPHA + DIGIT + '.-_[:]';
const UNSAFE_CHARS = ' <>"%{}|\\^`';
const RESERVED = ':/?#[]@' + "!$&'()*+,;=";

const hexval = (c: string | undefined) => (c === undefined ? -1 : '0123456789abcdef'.indexOf(c.toLowerCase()));

/** Two hex digits at `at` as a byte, or -1. */
function hex2chr(s: string, at: number): number {
  const a = hexval(s[at]);
  const b = hexval(s[at + 1]);
  return a < 0 || b < 0 ? -1 : (a << 4) | b;
}

function span(s: string, from: number, chars: string): number {
  let i = from;
  while (i < s.length && chars.includes(s[i]!)) i++;
  return i - from;
}

function cspan(s: string, from: number, chars: string): number {
  let i = from;
  while (i < s.length && !chars.includes(s[i]!)) i++;
  return i - from;
}

/** append_normalized_escapes with esc_extra "" and esc_ok RESERVED; null on a bad %-escape. */
function normalizedEscapes(from: string): string | null {
  let out = '';
  for (let i = 0; i < from.length; ) {
    let ch = from.charCodeAt(i++);
    let wasEsc = false;
    if (ch === 0x25) {
      if (from.length - i < 2) return null;
      ch = hex2chr(from, i);
      if (ch < 0) return null;
      i += 2;
      wasEsc = true;
    }
    const c = String.fromCharCode(ch);
    if (ch <= 0x1f || ch >= 0x7f || UNSAFE_CHARS.includes(c) || (wasEsc && RESERVED.includes(c))) {
      out += '%' + ch.toString(16).toUpperCase().padStart(2, '0');
    } else out += c;
  }
  return out;
}

/** url_normalize(url, NULL): the normalized URL, or null where git finds it invalid. */
export function urlNormalize(input: string): string | null {
  const nul = input.indexOf('\0');
  let url = nul < 0 ? input : input.slice(0, nul);
  let spanned = span(url, 0, SCHEME_CHARS);
  if (!spanned || !ALPHA.includes(url[0]!) || spanned + 3 > url.length || url.slice(spanned, spanned + 3) !== '://') return null;
  let norm = url.slice(0, spanned + 3).toLowerCase();
  url = url.slice(spanned + 3);

  // user:password@
  const at = url.indexOf('@');
  let slash = cspan(url, 0, '/?#');
  if (at >= 0 && at < slash) {
    if (at > 0) {
      const user = normalizedEscapes(url.slice(0, at));
      if (user === null) return null;
      norm += user;
    }
    norm += '@';
    url = url.slice(at + 1);
    slash = cspan(url, 0, '/?#');
  }

  // host, no %-escapes
  let hostOff = 0;
  if (!url.length || ':/?#'.includes(url[0]!)) {
    if (!norm.startsWith('file:')) return null;
  } else hostOff = norm.length;
  let colon = slash - 1;
  while (colon > 0 && url[colon] !== ':' && url[colon] !== ']') colon--;
  if (url[colon] !== ':') colon = slash;
  else if (!hostOff && colon < slash && colon + 1 !== slash) return null; // file: URLs have no port
  spanned = span(url, 0, HOST_CHARS);
  if (spanned < colon) return null;
  norm += url.slice(0, colon).toLowerCase();
  url = url.slice(colon);
  slash -= colon;

  // port: digits, 1..65535, default ports dropped
  if (slash > 0) {
    let p = 1;
    p += span(url, p, '0');
    if (p === slash && url[p - 1] === '0') p--;
    const port = url.slice(p, slash);
    if (port === '') {
      // ':' alone means the default port
    } else if (port === '80' && norm.startsWith('http:')) {
      // default
    } else if (port === '443' && norm.startsWith('https:')) {
      // default
    } else {
      if (span(port, 0, DIGIT) < port.length) return null;
      const n = port.length <= 5 ? Number(port) : 0;
      if (n === 0 || n > 65535) return null;
      norm += ':' + port;
    }
    url = url.slice(slash);
  }

  // path, with . and .. segments resolved
  const pathStart = norm.length;
  norm += '/';
  if (url[0] === '/') url = url.slice(1);
  for (;;) {
    const next = cspan(url, 0, '/?#');
    let skipSlash = false;
    const segStart = norm.length;
    const seg = normalizedEscapes(url.slice(0, next));
    if (seg === null) return null;
    norm += seg;
    if (seg === '.') {
      if (segStart === pathStart + 1) {
        norm = norm.slice(0, -1);
        skipSlash = true;
      } else norm = norm.slice(0, -2);
    } else if (seg === '..') {
      let prev = norm.length - 3;
      if (prev === pathStart) return null; // nothing to go up from
      while (norm[--prev] !== '/') {
        // back to the previous '/'
      }
      if (prev === pathStart) {
        norm = norm.slice(0, prev + 1);
        skipSlash = true;
      } else norm = norm.slice(0, prev);
    }
    url = url.slice(next);
    if (url[0] !== '/') break;
    url = url.slice(1);
    if (!skipSlash) norm += '/';
  }

  // query and fragment
  if (url.length) {
    const rest = normalizedEscapes(url);
    if (rest === null) return null;
    norm += rest;
  }
  return norm;
}

/** url_decode: %XX escapes decoded (except %00); a NUL ends the string. */
export function urlDecode(input: string): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c === '\0') break;
    if (c === '%' && input.length - i >= 3) {
      const v = hex2chr(input, i + 1);
      if (v > 0) {
        out += String.fromCharCode(v);
        i += 2;
        continue;
      }
    }
    out += c;
  }
  return out;
}
