// Refusals of well-formed requests travel as an "ERR <message>" pkt-line, which git prints
// as "remote error: <message>" (an HTTP error status would hide the message from the user).
import { GitgateError, isGitgateError } from '../errors.js';
import { pktText } from './pkt-line.js';

export function errPacket(err: GitgateError): Buffer {
  const text = err.code === 'PROTOCOL' && typeof err.params.detail === 'string' ? err.params.detail : err.message;
  return pktText(`ERR ${text}`);
}

/** Run `body`; a client-caused error raised before anything was yielded becomes an ERR packet. */
export async function* refusalsAsErr(body: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  let started = false;
  try {
    for await (const chunk of body) {
      started = true;
      yield chunk;
    }
  } catch (err) {
    if (started || !isGitgateError(err) || err.status >= 500) throw err;
    yield errPacket(err);
  }
}
