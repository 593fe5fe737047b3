// Streams an async generator into a response with backpressure. The first chunk is awaited
// before headers go out, so errors found while parsing the request still get a status.
import type { Response } from 'express';
import { written } from '../pack/low-memory.js';

/** Resolves when the response drains or closes; removes both listeners either way. */
function drainOrClose(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export async function streamResponse(res: Response, contentType: string, body: AsyncGenerator<Buffer>): Promise<void> {
  const first = await body.next();
  res.status(200);
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-cache');
  if (first.done) {
    res.end();
    return;
  }
  let chunk: IteratorResult<Buffer> = first;
  try {
    while (!chunk.done) {
      if (res.destroyed || res.writableEnded) break;
      const value = chunk.value;
      // written: the chunk's producer may reuse it (pack/low-memory.ts returnable)
      if (!res.write(value, (err) => err || written(value))) await drainOrClose(res);
      chunk = await body.next();
    }
  } catch (err) {
    res.destroy(err as Error);
    throw err;
  } finally {
    // A client that went away: stop producing (closes pack reads, releases locks).
    if (!chunk.done) await body.return(undefined).catch(() => undefined);
  }
  res.end();
}
