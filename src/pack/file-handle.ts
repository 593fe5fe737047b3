// The subset of a FileHandle (node `fs` or memfs) the pack layer reads and writes through.
// Declared here so pack/ depends on no layer above it; repo/storage.ts hands out these.
export interface FileHandleLike {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Buffer, offset: number, length: number, position?: number | null): Promise<{ bytesWritten: number }>;
  stat(): Promise<{ size: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A file read with synchronous positional reads (fs.readSync on its descriptor): pack index
 * lookups are synchronous, as C Git's are on its mmapped index.
 */
export interface RandomAccessFile {
  readonly size: number;
  /** Reads into buffer[offset, offset+length) from `position`; bytes read (short only at the end). */
  read(buffer: Buffer, offset: number, length: number, position: number): number;
  close(): Promise<void>;
}
