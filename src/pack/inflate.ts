// Inflating one object's zlib stream from the middle of a pack, where the stream's
// compressed length is not recorded anywhere: zlib itself tells us where it ended.
import zlib from 'node:zlib';

/** Objects up to this size are inflated with one synchronous call; larger ones stream. */
export const SYNC_INFLATE_LIMIT = 4 * 1024 * 1024;

/**
 * Upper bound on the compressed size of `size` bytes for any real zlib encoder
 * (deflateBound plus slack); a stream still unfinished past this is handed to the streaming path.
 */
export function compressedBound(size: number): number {
  return size + Math.ceil(size / 16) + 64;
}

export type InflateProblem = 'truncated' | 'too-long' | 'too-short' | 'corrupt';

/** Why a stream failed: callers turn it into BAD_PACK or CORRUPT_REPO with their own context. */
export class InflateError extends Error {
  constructor(
    readonly problem: InflateProblem,
    message: string,
  ) {
    super(message);
    this.name = 'InflateError';
  }
}

/** zlib's errors become InflateErrors; anything else (e.g. a failed read of the input) passes through. */
function classify(err: unknown, size: number): unknown {
  if (err instanceof InflateError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'Z_BUF_ERROR') return new InflateError('truncated', 'compressed data ends early');
  if (code === 'ERR_BUFFER_TOO_LARGE') return new InflateError('too-long', `inflates to more than ${size} bytes`);
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new InflateError('corrupt', `bad zlib data (${(err as Error).message})`);
  }
  return err;
}

interface InflateInfo {
  buffer: Buffer;
  engine: { bytesWritten: number };
}

/**
 * Inflates the zlib stream at the start of `input` (which may continue past it) and checks it
 * yields exactly `size` bytes. `consumed` is the compressed length.
 */
export function inflateExact(input: Buffer, size: number): { data: Buffer; consumed: number } {
  let result: InflateInfo;
  try {
    result = zlib.inflateSync(input, {
      info: true,
      // Stop at the declared size instead of letting a zlib bomb allocate.
      maxOutputLength: Math.max(size, 1),
      // One output chunk of the right size avoids zlib's 16 KiB chunks and a concat.
      chunkSize: Math.max(64, Math.min(size + 64, SYNC_INFLATE_LIMIT + 64)),
    }) as unknown as InflateInfo;
  } catch (err) {
    throw classify(err, size);
  }
  if (result.buffer.length !== size) {
    const problem = result.buffer.length > size ? 'too-long' : 'too-short';
    throw new InflateError(problem, `inflates to ${result.buffer.length} bytes, not ${size}`);
  }
  return { data: result.buffer, consumed: result.engine.bytesWritten };
}

/**
 * Streams one zlib stream through `onData` (never holding all of it), feeding compressed
 * chunks from `nextInput` until the stream ends; an empty chunk means the input is exhausted.
 * Returns the compressed length.
 */
export async function inflateStreaming(
  nextInput: () => Promise<Buffer>,
  size: number,
  onData: (chunk: Buffer) => void,
): Promise<number> {
  const inflater = zlib.createInflate({ chunkSize: 256 * 1024 });
  let produced = 0;
  let ended = false;
  const finished = new Promise<void>((resolve, reject) => {
    inflater.on('end', () => {
      ended = true;
      resolve();
    });
    inflater.on('error', reject);
  });
  finished.catch(() => undefined); // observed below; avoid an unhandled rejection meanwhile
  inflater.on('data', (chunk: Buffer) => {
    produced += chunk.length;
    if (produced > size) {
      inflater.destroy(new InflateError('too-long', `inflates to more than ${size} bytes`));
      return;
    }
    onData(chunk);
  });

  try {
    let fed = 0;
    for (;;) {
      const input = await nextInput();
      if (input.length === 0) {
        inflater.end();
        break;
      }
      const written = new Promise<void>((resolve, reject) =>
        inflater.write(input, (err) => (err ? reject(err) : resolve())),
      );
      await Promise.race([written, finished]);
      fed += input.length;
      // zlib left input unconsumed: the stream ended inside this chunk.
      if (ended || inflater.bytesWritten < fed) break;
    }
    await finished;
    inflater.destroy(); // frees the native zlib state now rather than at GC
  } catch (err) {
    inflater.destroy();
    throw classify(err, size);
  }
  if (produced !== size) throw new InflateError('too-short', `inflates to ${produced} bytes, not ${size}`);
  return inflater.bytesWritten;
}
