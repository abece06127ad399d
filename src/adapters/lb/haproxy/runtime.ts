/**
 * A minimal HAProxy Runtime API (stats socket) client: one command per connection.
 * HAProxy, in its default non-interactive mode, answers the command and closes the
 * connection, so "read until the server closes" delimits the answer exactly and no
 * state survives a failed call.
 */
import net from 'node:net';
import { QrError } from '../../../util/errors.js';

export type RuntimeAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Per command, when the caller gives no deadline. */
export const HAPROXY_DEFAULT_TIMEOUT_MS = 10_000;
/** `show stat` of a big config is a few MB at most; anything beyond is not HAProxy. */
const MAX_REPLY_BYTES = 32 * 1024 * 1024;

/**
 * `lb.socket`: a unix socket path, or `host:port` / `[v6]:port`. HAProxy's own
 * `unix@`, `ipv4@`, `ipv6@` prefixes are accepted too. A value with a `/` is a path.
 */
export function parseRuntimeAddress(socket: string): RuntimeAddress {
  let s = socket.trim();
  if (s.startsWith('unix@')) return { kind: 'unix', path: s.slice(5) };
  const prefixed = /^ipv[46]@/.test(s);
  if (prefixed) s = s.slice(5);
  if (!prefixed && s.includes('/')) return { kind: 'unix', path: s };
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(s);
  if (m) {
    const port = Number(m[3]);
    if (port >= 1 && port <= 65535) return { kind: 'tcp', host: m[1] ?? m[2] ?? '', port };
  }
  if (prefixed) throw new QrError(`lb.socket ${JSON.stringify(socket)} is not host:port`, { endpoint: socket });
  return { kind: 'unix', path: s };
}

export interface CommandCtl {
  deadline?: number;
  signal?: AbortSignal;
}

export class HaproxyRuntime {
  readonly address: RuntimeAddress;
  constructor(
    /** As configured; used in every message. */
    readonly socket: string,
    private readonly defaultTimeoutMs = HAPROXY_DEFAULT_TIMEOUT_MS,
  ) {
    this.address = parseRuntimeAddress(socket);
  }

  /** `HAProxy runtime API at <socket>: "<cmd>" failed: <why>` */
  fail(cmd: string, why: string, cause?: unknown): QrError {
    return new QrError(`HAProxy runtime API at ${this.socket}: "${cmd}" failed: ${why}`, { endpoint: this.socket }, { cause });
  }

  /**
   * Sends one command and returns HAProxy's whole answer (trailing blank line
   * removed). Transport failures and timeouts throw; interpreting the answer
   * (error texts such as "No such server.") is the caller's job.
   */
  async command(cmd: string, ctl: CommandCtl = {}): Promise<string> {
    if (/[\r\n;]/.test(cmd)) throw this.fail(cmd, 'refusing a command containing a newline or ";"');
    if (ctl.signal?.aborted) throw abortReason(ctl.signal);
    const timeoutMs = Math.min(this.defaultTimeoutMs, ctl.deadline !== undefined ? ctl.deadline - Date.now() : Infinity);
    if (timeoutMs <= 0) throw this.fail(cmd, 'no time left before the deadline');

    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const sock =
        this.address.kind === 'unix' ? net.createConnection({ path: this.address.path }) : net.createConnection({ host: this.address.host, port: this.address.port });
      const finish = (err: Error | undefined, value?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ctl.signal?.removeEventListener('abort', onAbort);
        sock.destroy();
        if (err) reject(err);
        else resolve(value ?? '');
      };
      const timer = setTimeout(() => finish(this.fail(cmd, `no complete answer within ${Math.round(timeoutMs)} ms`)), timeoutMs);
      const onAbort = () => finish(abortReason(ctl.signal!));
      ctl.signal?.addEventListener('abort', onAbort, { once: true });

      sock.setNoDelay(true);
      sock.on('connect', () => sock.write(`${cmd}\n`));
      sock.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_REPLY_BYTES) return finish(this.fail(cmd, `answer larger than ${MAX_REPLY_BYTES} bytes`));
        chunks.push(d);
      });
      sock.on('end', () => finish(undefined, Buffer.concat(chunks).toString('utf8').replace(/\n+$/, '')));
      sock.on('error', (err: NodeJS.ErrnoException) => finish(this.fail(cmd, this.describe(err), err)));
    });
  }

  private describe(err: NodeJS.ErrnoException): string {
    const unix = this.address.kind === 'unix';
    switch (err.code) {
      case 'ENOENT':
        return 'no such socket file (is HAProxy running with "stats socket ... level admin" at this path?)';
      case 'ECONNREFUSED':
        return unix
          ? 'connection refused: HAProxy is not running at that socket (the socket file is stale)'
          : 'connection refused (is HAProxy running with "stats socket ... level admin" on this address?)';
      case 'EACCES':
      case 'EPERM':
        return 'permission denied on the socket (run as a user that may write to it)';
      case 'ENOTSOCK':
        return 'the path is not a socket';
      case 'ECONNRESET':
      case 'EPIPE':
        return 'HAProxy closed the connection before answering';
      default:
        return `${err.code ?? 'error'}: ${err.message}`;
    }
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new QrError('aborted');
}
