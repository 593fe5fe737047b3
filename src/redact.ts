// The one redaction of token secrets, for all text that leaves the process: log lines, error
// messages, audit records, metric labels. A secret counts in every spelling the server would
// accept, so text is matched after percent-decoding (repeatedly: "%2572" -> "%72" -> "r"), and
// the whole span that spelled it is replaced. No imports: every layer may use it.

// A prefix and at least the 16-character id body: shorter runs carry nothing secret, and a
// mistyped or truncated secret must still be hidden (no checksum or length check here).
const SECRET = /gg[wr]_[0-9A-Za-z_]{16,}/g;
const MAX_DECODE_ROUNDS = 4;

/** One character of the decoded text and the span of the original text that spelled it. */
interface Unit {
  ch: string;
  start: number;
  end: number;
}

const HEX = /^[0-9A-Fa-f]$/;

function decodeOnce(units: Unit[]): Unit[] | null {
  const out: Unit[] = [];
  let changed = false;
  for (let i = 0; i < units.length; i++) {
    const u = units[i]!;
    const a = units[i + 1];
    const b = units[i + 2];
    if (u.ch === '%' && a && b && HEX.test(a.ch) && HEX.test(b.ch)) {
      // bytes >= 0x80 become characters no secret contains: ASCII is all that matters here
      out.push({ ch: String.fromCharCode(parseInt(a.ch + b.ch, 16)), start: u.start, end: b.end });
      i += 2;
      changed = true;
    } else out.push(u);
  }
  return changed ? out : null;
}

const replacement = (match: string) => `${match.slice(0, 4)}[REDACTED]`;

/** `text` with every token secret (literal or percent-encoded) replaced by "ggr_[REDACTED]". */
export function redactSecrets(text: string): string {
  if (!text.includes('%')) return text.replace(SECRET, replacement);
  let units: Unit[] = Array.from({ length: text.length }, (_, i) => ({ ch: text[i]!, start: i, end: i + 1 }));
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    const next = decodeOnce(units);
    if (!next) break;
    units = next;
  }
  const decoded = units.map((u) => u.ch).join('');
  let out = '';
  let at = 0;
  for (const m of decoded.matchAll(SECRET)) {
    const start = units[m.index]!.start;
    const end = units[m.index + m[0].length - 1]!.end;
    out += text.slice(at, start) + replacement(m[0]);
    at = end;
  }
  return out + text.slice(at);
}

