// pkt-line codec (gitprotocol-common): 4 hex digits of length including themselves, then
// payload; 0000 flush, 0001 delim, 0002 response-end.
import { GitgateError } from '../errors.js';
import { ByteReader, type ByteSource } from './byte-reader.js';

export const MAX_PKT_PAYLOAD = 65516;
export const FLUSH = Buffer.from('0000');
export const DELIM = Buffer.from('0001');

export type Pkt = { type: 'data'; payload: Buffer } | { type: 'flush' } | { type: 'delim' } | { type: 'response-end' };

export function pktLine(data: string | Buffer): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  if (payload.length > MAX_PKT_PAYLOAD) throw new RangeError(`pkt-line payload too long: ${payload.length}`);
  const header = Buffer.from((payload.length + 4).toString(16).padStart(4, '0'));
  return Buffer.concat([header, payload]);
}

/** A text pkt-line terminated by LF, as C Git writes them. */
export function pktText(line: string): Buffer {
  return pktLine(line.endsWith('\n') ? line : `${line}\n`);
}

/**
 * Many text pkt-lines (with flush and delim packets between them) built as one string and
 * encoded once: a listing of tens of thousands of refs costs one buffer, not two per line.
 * A writer kept and appended to others (a listing rendered once) keeps its encoding too, so a
 * request copies its bytes rather than flattening and encoding 1.4 MB of text again (vim's
 * 19,877 tags, every no-op fetch).
 */
export class PktTextWriter {
  private text = '';
  /** Encoded blocks that come before `text`. */
  private parts: Buffer[] = [];

  line(line: string): this {
    const payload = line.endsWith('\n') ? line : `${line}\n`;
    const n = Buffer.byteLength(payload);
    if (n > MAX_PKT_PAYLOAD) throw new RangeError(`pkt-line payload too long: ${n}`);
    this.text += (n + 4).toString(16).padStart(4, '0') + payload;
    return this;
  }

  flush(): this {
    this.text += '0000';
    return this;
  }

  delim(): this {
    this.text += '0001';
    return this;
  }

  /** The packets another writer holds (e.g. a block rendered once and kept). */
  append(other: PktTextWriter): this {
    this.seal();
    this.parts.push(other.toBuffer());
    return this;
  }

  /** The packets so far, encoded; the same Buffer while nothing is added (do not modify it). */
  toBuffer(): Buffer {
    this.seal();
    if (this.parts.length !== 1) this.parts = [this.parts.length === 0 ? Buffer.alloc(0) : Buffer.concat(this.parts)];
    return this.parts[0]!;
  }

  /** The packets so far as the encoded blocks they were built from, uncopied (do not modify them). */
  toBuffers(): Buffer[] {
    this.seal();
    return [...this.parts];
  }

  private seal(): void {
    if (this.text === '') return;
    this.parts.push(Buffer.from(this.text));
    this.text = '';
  }
}

function protocolError(detail: string): GitgateError {
  return new GitgateError('PROTOCOL', { detail });
}

export class PktLineReader {
  readonly bytes: ByteReader;

  constructor(source: ByteSource | ByteReader) {
    this.bytes = source instanceof ByteReader ? source : new ByteReader(source);
  }

  /** Next packet, or null at a clean end of stream. Throws PROTOCOL on malformed input. */
  async read(): Promise<Pkt | null> {
    const head = await this.bytes.read(4);
    if (head === null) {
      if (this.bytes.bufferedBytes > 0) throw protocolError('truncated pkt-line length');
      return null;
    }
    const text = head.toString('latin1');
    if (!/^[0-9a-fA-F]{4}$/.test(text)) throw protocolError(`bad pkt-line length ${JSON.stringify(text)}`);
    const len = parseInt(text, 16);
    if (len === 0) return { type: 'flush' };
    if (len === 1) return { type: 'delim' };
    if (len === 2) return { type: 'response-end' };
    if (len < 4) throw protocolError(`bad pkt-line length ${len}`);
    const payload = await this.bytes.read(len - 4);
    if (payload === null) throw protocolError('truncated pkt-line');
    return { type: 'data', payload };
  }

  /** Next packet, which must exist (end of stream is a protocol error). */
  async readRequired(what: string): Promise<Pkt> {
    const p = await this.read();
    if (p === null) throw protocolError(`unexpected end of request while reading ${what}`);
    return p;
  }
}

/** Payload as text without the trailing LF. */
export function pktToText(payload: Buffer): string {
  const end = payload.length && payload[payload.length - 1] === 0x0a ? payload.length - 1 : payload.length;
  return payload.toString('utf8', 0, end);
}
