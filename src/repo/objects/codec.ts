// What commits and tags share: the header block (continuation lines), message bytes, and the
// errors of the object codecs (CORRUPT_REPO reading, VALIDATION writing).
import { isUtf8 } from 'node:buffer';
import { GitgateError } from '../../errors.js';

export interface ExtraHeader {
  name: string;
  /** Multi-line values (gpgsig, mergetag) joined with '\n', without the continuation spaces. */
  value: string;
}

/** Index of the blank line ending the header (or the content length when there is none). */
export function headerEnd(content: Buffer): number {
  const i = content.indexOf('\n\n');
  return i < 0 ? content.length : i;
}

export function splitObject(content: Buffer): { headers: ExtraHeader[]; message: string; rawMessage?: Buffer } {
  const sep = content.indexOf('\n\n');
  const headerText = content.toString('utf8', 0, sep < 0 ? content.length : sep);
  const headers: ExtraHeader[] = [];
  for (const line of headerText.split('\n')) {
    if (line === '' && sep < 0) continue; // trailing newline of a message-less object
    if (line.startsWith(' ') && headers.length > 0) {
      headers[headers.length - 1]!.value += '\n' + line.slice(1);
      continue;
    }
    const space = line.indexOf(' ');
    headers.push(space < 0 ? { name: line, value: '' } : { name: line.slice(0, space), value: line.slice(space + 1) });
  }
  if (sep < 0) return { headers, message: '' };
  const body = content.subarray(sep + 2);
  const message = body.toString('utf8');
  return isUtf8(body) ? { headers, message } : { headers, message, rawMessage: Buffer.from(body) };
}

export function serializeExtraHeaders(headers: ExtraHeader[] | undefined): string {
  let out = '';
  for (const h of headers ?? []) {
    if (!/^[^\s]+$/.test(h.name)) throw invalid(`bad header name ${JSON.stringify(h.name)}`);
    out += `${h.name} ${h.value.replace(/\n/g, '\n ')}\n`;
  }
  return out;
}

export function messageBytes(o: { message: string; rawMessage?: Buffer }): Buffer {
  return o.rawMessage && o.rawMessage.toString('utf8') === o.message ? o.rawMessage : Buffer.from(o.message, 'utf8');
}

export function checkIdent(what: string, ident: string): void {
  if (ident.includes('\n') || ident.includes('\0')) throw invalid(`bad ${what} ${JSON.stringify(ident)}`);
}

export function corrupt(detail: string): GitgateError {
  return new GitgateError('CORRUPT_REPO', { detail });
}

export function invalid(detail: string): GitgateError {
  return new GitgateError('VALIDATION', { detail });
}
