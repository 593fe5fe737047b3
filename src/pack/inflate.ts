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

/**
 * One zlib inflate state, reset and reused for every synchronous inflate of the process: the
 * calls never interleave (they are synchronous), and zlib.inflateSync builds a fresh stream
 * object (listeners, buffers, native state) per call, which cost more than the inflating of a
 * typical tree or delta (measured 7.9 vs 3.1 µs per 1 KiB object; 2 calls per pushed object).
 * It drives the native handle the way zlib.inflateSync does internally (_handle.writeSync into
 * the caller's buffer), and is dropped for a fresh one after any error. Should a Node release
 * change those internals, inflateIntoPortable (the public API) is used instead.
 */
interface NativeInflate {
  reset(): void;
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
  onerror: (message: string, errno: number, code: string) => void;
}

type Engine = { handle: NativeInflate; state: Uint32Array; failure: { message: string; code: string } | null };
let engine: Engine | null = null;
/** False once Node's zlib internals are found not to be what this expects (then the public API is used). */
let nativeUsable = true;

function inflateEngine(): Engine | null {
  if (engine || !nativeUsable) return engine;
  const stream = zlib.createInflate() as unknown as { _handle?: Partial<NativeInflate>; _writeState?: unknown };
  const handle = stream._handle;
  if (typeof handle?.writeSync !== 'function' || typeof handle.reset !== 'function' || !(stream._writeState instanceof Uint32Array)) {
    nativeUsable = false;
    return null;
  }
  const made: Engine = { handle: handle as NativeInflate, state: stream._writeState, failure: null };
  // replaces the stream's handler (which would destroy the stream): the failure is read after the call
  made.handle.onerror = (message, _errno, code) => {
    made.failure = { message, code };
  };
  engine = made;
  return made;
}

interface InflateInfo {
  buffer: Buffer;
  engine: { bytesWritten: number };
}

/** inflateInto through zlib's public API (a fresh stream per call): for a Node whose internals differ. */
export function inflateIntoPortable(input: Buffer, out: Buffer, at: number, size: number): number {
  let result: InflateInfo;
  try {
    // maxOutputLength stops a zlib bomb at the declared size instead of letting it allocate
    result = zlib.inflateSync(input, { info: true, maxOutputLength: Math.max(size, 1) }) as unknown as InflateInfo;
  } catch (err) {
    throw classify(err, size);
  }
  if (result.buffer.length !== size) {
    const problem = result.buffer.length > size ? 'too-long' : 'too-short';
    throw new InflateError(problem, `inflates to ${result.buffer.length} bytes, not ${size}`);
  }
  result.buffer.copy(out, at);
  return result.engine.bytesWritten;
}

/**
 * Inflates the zlib stream at the start of `input` (which may continue past it) into
 * out[at, at+size) and checks it yields exactly `size` bytes; returns the compressed length.
 * `out` must have one spare byte after at+size, where a too-long stream shows.
 */
export function inflateInto(input: Buffer, out: Buffer, at: number, size: number): number {
  const e = inflateEngine();
  if (!e) return inflateIntoPortable(input, out, at, size);
  e.handle.reset();
  e.handle.writeSync(zlib.constants.Z_FINISH, input, 0, input.length, out, at, size + 1);
  if (e.failure) {
    const { message, code } = e.failure;
    engine = null;
    throw classify(Object.assign(new Error(message), { code }), size);
  }
  const produced = size + 1 - e.state[0]!;
  if (produced !== size) {
    const problem = produced > size ? 'too-long' : 'too-short';
    throw new InflateError(problem, produced > size ? `inflates to more than ${size} bytes` : `inflates to ${produced} bytes, not ${size}`);
  }
  return input.length - e.state[1]!;
}

/**
 * Inflates the zlib stream at the start of `input` (which may continue past it) and checks it
 * yields exactly `size` bytes. `consumed` is the compressed length.
 */
export function inflateExact(input: Buffer, size: number): { data: Buffer; consumed: number } {
  const out = Buffer.allocUnsafe(size + 1);
  const consumed = inflateInto(input, out, 0, size);
  return { data: out.subarray(0, size), consumed };
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
