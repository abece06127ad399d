/**
 * Durable writes that are really durable (issue 20, item 5): the journal and the
 * metrics file (both through writeFileAtomic) write every byte — a short write is
 * continued, a write that takes nothing fails naming the file and leaves the old file
 * whole — and a failed fsync of the directory is reported, not ignored. Faults come in
 * through the file system seam (`WriteIo`), on a real file in a temp dir.
 */
import { fsyncSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WriteError, writeFileAtomic } from '../../src/run/journal.js';
import type { WriteIo } from '../../src/util/write-all.js';

const dir = () => mkdtempSync(join(tmpdir(), 'qr-dw-'));
const doc = (n: number) => `${JSON.stringify({ nodes: Array.from({ length: n }, (_, i) => ({ id: `node-${i}`, status: 'pending' })) }, null, 2)}\n`;

/** Writes at most `chunk` bytes per call; after `limit` bytes in all, takes nothing (a disk that fills up). */
function shortWrites(chunk: number, limit = Infinity): WriteIo & { calls: number } {
  let written = 0;
  const io = {
    calls: 0,
    writeSync(fd: number, buf: Uint8Array, off: number, len: number): number {
      io.calls++;
      const n = Math.max(0, Math.min(chunk, len, limit - written));
      if (n === 0) return 0;
      written += writeSync(fd, buf, off, n);
      return n;
    },
    fsyncSync,
  };
  return io;
}

describe('writeFileAtomic', () => {
  it('a short write is continued until every byte is on disk', () => {
    const file = join(dir(), 'journal.json');
    const data = doc(200);
    const io = shortWrites(1000);
    writeFileAtomic(file, data, 0o600, io);
    expect(readFileSync(file, 'utf8')).toBe(data);
    expect(io.calls).toBeGreaterThan(1);
  });

  it('a write that takes nothing (a full disk) fails naming the file; the old file stays whole, no temp file is left', () => {
    const d = dir();
    const file = join(d, 'journal.json');
    const old = doc(3);
    writeFileSync(file, old);
    const err = (() => {
      try {
        writeFileAtomic(file, doc(500), 0o600, shortWrites(4096, 10_000));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(WriteError);
    expect((err as WriteError).code).toBe('SHORT_WRITE');
    expect((err as Error).message).toContain(file);
    expect(readFileSync(file, 'utf8'), 'the truncated write was not renamed over the good file').toBe(old);
    expect(readdirSync(d)).toEqual(['journal.json']);
  });

  it('a failed fsync of the directory is reported (the rename may not survive a crash), not ignored', () => {
    const d = dir();
    const file = join(d, 'metrics.prom');
    let syncs = 0;
    const io: WriteIo = {
      writeSync: (fd, b, o, l) => writeSync(fd, b, o, l),
      fsyncSync: (fd) => {
        // The first sync is the file's; the second, the directory's, fails.
        if (++syncs === 2) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
        fsyncSync(fd);
      },
    };
    let err: unknown;
    try {
      writeFileAtomic(file, 'x 1\n', 0o644, io);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WriteError);
    expect((err as WriteError).stage).toBe('dir_sync');
    expect((err as Error).message).toMatch(new RegExp(`cannot make ${file} durable: the fsync of its directory ${d} failed: EIO`));
  });
});
