/**
 * Writing every byte: `write(2)` may take fewer bytes than asked (a nearly full disk, a
 * signal, a pipe), and `fs.writeSync` returns what it took. The journal, the metrics
 * file and the run log go through `writeAll`, which writes the rest until none is left.
 * Our own loop rather than write-file-atomic: the journal keeps its fd to fchmod and
 * fsync it and syncs the directory after the rename (which that package does not), and
 * the loop is the seam the tests inject short writes through.
 */
import { fsyncSync, writeSync } from 'node:fs';

/** The calls of node:fs a durable write makes, replaceable by a test (short writes, failing syncs). */
export interface WriteIo {
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
}

export const defaultWriteIo: WriteIo = { writeSync: (fd, b, o, l) => writeSync(fd, b, o, l), fsyncSync };

/** Writes all of `data` to `fd`; a write that takes nothing of what is left throws (code SHORT_WRITE). */
export function writeAll(fd: number, data: string | Uint8Array, io: WriteIo = defaultWriteIo): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let off = 0;
  while (off < buf.length) {
    const n = io.writeSync(fd, buf, off, buf.length - off);
    if (!(n > 0)) {
      throw Object.assign(new Error(`short write: ${off} of ${buf.length} bytes written, then none`), { code: 'SHORT_WRITE' });
    }
    off += n;
  }
}
