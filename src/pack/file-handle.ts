// The subset of a FileHandle (node `fs` or memfs) the pack layer reads and writes through.
// Declared here so pack/ depends on no layer above it; repo/storage.ts hands out these.
export interface FileHandleLike {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Buffer, offset: number, length: number, position?: number | null): Promise<{ bytesWritten: number }>;
  stat(): Promise<{ size: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}
