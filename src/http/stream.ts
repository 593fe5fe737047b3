// Streams an async generator into a response with backpressure. The first chunk is awaited
// before headers go out, so errors found while parsing the request still get a status.
import type { Response } from 'express';
import { once } from 'node:events';

export async function streamResponse(res: Response, contentType: string, body: AsyncGenerator<Buffer>): Promise<void> {
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  const first = await body.next();
  res.status(200);
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-cache');
  if (first.done) {
    res.end();
    return;
  }
  try {
    let chunk: IteratorResult<Buffer> = first;
    while (!chunk.done) {
      if (closed) break;
      if (!res.write(chunk.value)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
      chunk = await body.next();
    }
  } catch (err) {
    res.destroy(err as Error);
    throw err;
  } finally {
    if (closed) await body.return(undefined).catch(() => undefined);
  }
  res.end();
}
