/** One output pipe of a child process, collected up to a byte bound, then abandoned but drained. */
import type { Readable } from 'node:stream';

/** One of the child's output pipes, collected up to `max` bytes. */
export class Collector {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  overflow = false;
  closed = false;
  constructor(
    readonly stream: Readable,
    private readonly max: number,
    onOverflow: () => void,
    onClose: () => void,
  ) {
    stream.on('data', (b: Buffer) => {
      if (this.overflow) return;
      if (this.bytes + b.length > this.max) {
        this.overflow = true;
        onOverflow();
        return;
      }
      this.bytes += b.length;
      this.chunks.push(b);
    });
    stream.on('error', () => {}); // a pipe error only ends collection; the exit code decides
    stream.on('close', () => {
      this.closed = true;
      onClose();
    });
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
  /**
   * Stop collecting but keep the pipe drained (discarding), so the process holding
   * its other end neither blocks on a full pipe nor dies of SIGPIPE while this
   * process lives; unref'd, so it never keeps this process alive.
   */
  abandon(): void {
    this.stream.removeAllListeners('data');
    this.stream.on('data', () => {});
    this.stream.resume();
    (this.stream as Readable & { unref?: () => void }).unref?.();
  }
}
