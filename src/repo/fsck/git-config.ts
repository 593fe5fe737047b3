// git's config file parser (config.c git_parse_source), enough to read a .gitmodules blob as
// C Git does: same sections, keys, quoting, escapes and comments, and the same points where it
// gives up. Works on latin1 strings, one character per byte, as git works on bytes.

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const isAlpha = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isKeyChar = (c: string) => isAlpha(c) || (c >= '0' && c <= '9') || c === '-';
const lower = (c: string) => (c >= 'A' && c <= 'Z' ? c.toLowerCase() : c);

const EOF_BYTE = '\xff';

class Source {
  private pos = 0;
  eof = false;

  constructor(private readonly text: string) {}

  /**
   * get_next_char over a blob: CRLF reads as LF, the end reads as a final LF. Bytes come from a
   * `char *`, signed on the platforms git runs on, so 0xff reads as EOF too (and the sticky eof
   * flag then ends the parse at the next LF), and a byte order mark is never recognised.
   */
  next(): string {
    if (this.pos >= this.text.length) {
      this.eof = true;
      return '\n';
    }
    const c = this.text[this.pos++]!;
    if (c === EOF_BYTE) {
      this.eof = true;
      return '\n';
    }
    if (c === '\r' && this.pos < this.text.length) {
      const d = this.text[this.pos]!;
      if (d === '\n' || d === EOF_BYTE) this.pos++; // an EOF after CR is consumed, not pushed back
      if (d === '\n') return '\n';
    }
    return c;
  }
}

/** parse_value; null where git refuses the value (an open quote, an unknown escape). */
function parseValue(src: Source): string | null {
  let quote = false;
  let comment = false;
  let value = '';
  let trimLen = 0;
  for (;;) {
    let c = src.next();
    if (c === '\n') {
      if (quote) return null;
      return trimLen ? value.slice(0, trimLen) : value;
    }
    if (comment) continue;
    if (isSpace(c) && !quote) {
      if (!trimLen) trimLen = value.length;
      if (value.length) value += c;
      continue;
    }
    if (!quote && (c === ';' || c === '#')) {
      comment = true;
      continue;
    }
    if (trimLen) trimLen = 0;
    if (c === '\\') {
      c = src.next();
      if (c === '\n') continue;
      if (c === 't') c = '\t';
      else if (c === 'b') c = '\b';
      else if (c === 'n') c = '\n';
      else if (c !== '\\' && c !== '"') return null;
      value += c;
      continue;
    }
    if (c === '"') {
      quote = !quote;
      continue;
    }
    value += c;
  }
}

/** get_extended_base_var: the `"subsection"` of `[section "subsection"]`. */
function extendedBaseVar(src: Source, c: string): string | null {
  do {
    if (c === '\n') return null;
    c = src.next();
  } while (isSpace(c));
  if (c !== '"') return null;
  let name = '.';
  for (;;) {
    let ch = src.next();
    if (ch === '\n') return null;
    if (ch === '"') break;
    if (ch === '\\') {
      ch = src.next();
      if (ch === '\n') return null;
    }
    name += ch;
  }
  return src.next() === ']' ? name : null;
}

/** get_base_var: the inside of `[…]`, section lowercased. */
function baseVar(src: Source): string | null {
  let name = '';
  for (;;) {
    const c = src.next();
    if (src.eof) return null;
    if (c === ']') return name;
    if (isSpace(c)) {
      const ext = extendedBaseVar(src, c);
      return ext === null ? null : name + ext;
    }
    if (!isKeyChar(c) && c !== '.') return null;
    name += lower(c);
  }
}

/**
 * Calls `entry(name, value)` for each variable up to the first error (value null for a bare
 * key); returns false when the text is not valid config, as git_config_from_mem does.
 */
export function parseGitConfig(text: string, entry: (name: string, value: string | null) => void): boolean {
  const src = new Source(text);
  let comment = false;
  let section = '';
  for (;;) {
    const c = src.next();
    if (c === '\n') {
      if (src.eof) return true;
      comment = false;
      continue;
    }
    if (comment) continue;
    if (isSpace(c)) continue;
    if (c === '#' || c === ';') {
      comment = true;
      continue;
    }
    if (c === '[') {
      const base = baseVar(src);
      if (base === null || base.length < 1) return false;
      section = base + '.';
      continue;
    }
    if (!isAlpha(c)) return false;
    // get_value
    let name = section + lower(c);
    let k: string;
    for (;;) {
      k = src.next();
      if (src.eof || !isKeyChar(k)) break;
      name += lower(k);
    }
    while (k === ' ' || k === '\t') k = src.next();
    let value: string | null = null;
    if (k !== '\n') {
      if (k !== '=') return false;
      value = parseValue(src);
      if (value === null) return false;
    }
    entry(name, value);
  }
}
