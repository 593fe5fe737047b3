// pkt-line framing for the fuzzer, written independently of src/protocol: splitting captured
// requests into packets (so mutations can work on lines), re-encoding them, and checking that
// a server response is a well-formed Git protocol stream.
import { createHash } from 'node:crypto';

/** The all-zero id of ref creations and deletions (kept apart from src/oid.ts: the fuzzer is written independently). */
export const ZERO = '0'.repeat(40);

export type FPkt =
  | { t: 'data'; payload: Buffer }
  | { t: 'flush' }
  | { t: 'delim' }
  | { t: 'end' }
  /** bytes that are not pkt-framed (a pack after the command list), or an explicit raw header */
  | { t: 'raw'; bytes: Buffer };

export function pkt(text: string | Buffer): Buffer {
  const payload = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const len = payload.length + 4;
  if (len > 0xffff) throw new RangeError(`pkt too long: ${len}`);
  return Buffer.concat([Buffer.from(len.toString(16).padStart(4, '0')), payload]);
}

export function textPkt(line: string): Buffer {
  return pkt(line.endsWith('\n') ? line : `${line}\n`);
}

export function encodePkts(pkts: readonly FPkt[]): Buffer {
  const out: Buffer[] = [];
  for (const p of pkts) {
    if (p.t === 'flush') out.push(Buffer.from('0000'));
    else if (p.t === 'delim') out.push(Buffer.from('0001'));
    else if (p.t === 'end') out.push(Buffer.from('0002'));
    else if (p.t === 'raw') out.push(p.bytes);
    else if (p.payload.length + 4 <= 0xffff) out.push(pkt(p.payload));
    else out.push(Buffer.from('ffff'), p.payload); // a lying length, as the caller asked
  }
  return Buffer.concat(out);
}

/**
 * Splits a buffer into packets. `packAfterFlushes`: after that many flushes the rest is one raw
 * item (receive-pack: commands, flush, [push options, flush], pack). Malformed framing ends the
 * parse with the remainder as raw bytes.
 */
export function splitPkts(buf: Buffer, opts: { stopAtPack?: boolean } = {}): FPkt[] {
  const out: FPkt[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (opts.stopAtPack && buf.subarray(pos, pos + 4).toString('latin1') === 'PACK') {
      out.push({ t: 'raw', bytes: buf.subarray(pos) });
      return out;
    }
    const head = buf.subarray(pos, pos + 4).toString('latin1');
    if (!/^[0-9a-f]{4}$/.test(head)) {
      out.push({ t: 'raw', bytes: buf.subarray(pos) });
      return out;
    }
    const len = parseInt(head, 16);
    if (len === 0) out.push({ t: 'flush' });
    else if (len === 1) out.push({ t: 'delim' });
    else if (len === 2) out.push({ t: 'end' });
    else if (len < 4 || pos + len > buf.length) {
      out.push({ t: 'raw', bytes: buf.subarray(pos) });
      return out;
    } else out.push({ t: 'data', payload: Buffer.from(buf.subarray(pos + 4, pos + len)) });
    pos += len < 4 ? 4 : len;
  }
  return out;
}

export interface StreamCheck {
  ok: boolean;
  problem?: string;
  /** An ERR pkt-line, side-band 3 message, or unpack/ng refusal was seen. */
  protocolError?: string;
  /** Text lines seen outside side-band data (ACK/NAK, shallow, ls-refs output, report-status). */
  lines: string[];
  /** Side-band channel 2 (progress) text. */
  progress: string;
  /** Bytes of the pack carried on side-band 1 (or after the negotiation without side-band). */
  pack: Buffer | null;
}

/**
 * Checks a 200 response body of git-upload-pack / git-receive-pack: complete pkt-line framing,
 * side-band channels 1–3 only, and — when a pack is present — a pack whose SHA-1 trailer is right.
 */
export function checkGitStream(body: Buffer, kind: 'upload-v0' | 'upload-v2' | 'receive' | 'ls-refs'): StreamCheck {
  const res: StreamCheck = { ok: true, lines: [], progress: '', pack: null };
  const fail = (problem: string): StreamCheck => ({ ...res, ok: false, problem });
  const packParts: Buffer[] = [];
  let pos = 0;
  let sideband = false;
  let rawPack = false;
  while (pos < body.length) {
    if (rawPack) {
      packParts.push(body.subarray(pos));
      break;
    }
    const head = body.subarray(pos, pos + 4).toString('latin1');
    if (head.length < 4) return fail(`truncated pkt-line length at byte ${pos}`);
    if (!/^[0-9a-f]{4}$/.test(head)) {
      // v0 upload-pack without side-band: the pack follows the ACK/NAK lines raw
      if (kind === 'upload-v0' && head === 'PACK') {
        rawPack = true;
        continue;
      }
      return fail(`bad pkt-line length ${JSON.stringify(head)} at byte ${pos}`);
    }
    const len = parseInt(head, 16);
    if (len < 4) {
      pos += 4;
      continue;
    }
    if (pos + len > body.length) return fail(`truncated pkt-line at byte ${pos} (length ${len}, ${body.length - pos} left)`);
    const payload = body.subarray(pos + 4, pos + len);
    pos += len;
    const text = payload.toString('utf8');
    if (!sideband && /^ERR /.test(text)) {
      res.protocolError = text.trim();
      res.lines.push(text.replace(/\n$/, ''));
      continue;
    }
    const band = payload[0];
    const looksBand =
      (kind === 'upload-v2' && (sideband || text.startsWith('\x01') || text.startsWith('\x02') || text.startsWith('\x03'))) ||
      ((kind === 'upload-v0' || kind === 'receive') && (band === 1 || band === 2 || band === 3) && (sideband || !/^[ -~]/.test(text)));
    if (looksBand && (band === 1 || band === 2 || band === 3)) {
      sideband = true;
      if (band === 1) {
        if (kind === 'receive') {
          // report-status inside band 1: itself pkt-lines
          const inner = checkGitStream(Buffer.from(payload.subarray(1)), 'ls-refs');
          res.lines.push(...inner.lines);
          if (inner.protocolError) res.protocolError = inner.protocolError;
        } else packParts.push(Buffer.from(payload.subarray(1)));
      } else if (band === 2) res.progress += payload.subarray(1).toString('utf8');
      else res.protocolError = `side-band 3: ${payload.subarray(1).toString('utf8').trim()}`;
      continue;
    }
    if (sideband && kind !== 'upload-v2') return fail(`pkt-line without a side-band channel after side-band data (byte ${pos - len})`);
    const line = text.replace(/\n$/, '');
    res.lines.push(line);
    if (/^unpack (?!ok$)/.test(line)) res.protocolError = line;
    else if (/^ng /.test(line) && !res.protocolError) res.protocolError = line;
  }
  if (packParts.length) {
    const pack = Buffer.concat(packParts);
    res.pack = pack;
    if (res.protocolError) return res; // cut short on purpose, with a reason
    if (pack.length < 32 || pack.subarray(0, 4).toString('latin1') !== 'PACK') return fail(`side-band data is not a pack (${pack.length} bytes)`);
    const want = createHash('sha1').update(pack.subarray(0, pack.length - 20)).digest();
    if (!want.equals(pack.subarray(pack.length - 20))) return fail(`pack trailer mismatch (pack of ${pack.length} bytes is truncated or corrupt)`);
  }
  return res;
}
