/**
 * One HTTP request through an undici pool, as lean as B2 needs it (3,000 leader
 * transfers in one process): the pool's own dispatch with a handler that keeps only the
 * status, the raw headers and the body's chunks, and timeouts on shared timers. What each
 * trick buys is in BENCHMARKS.md (B2, "the HTTP client").
 */
import { Buffer } from 'node:buffer';
import type { Dispatcher } from 'undici';

/** What one request came to: status, a header by name, the body as text. */
export interface Exchanged {
  status: number;
  header(name: string): string | undefined;
  text: string;
}

/** A body over the size cap: declared so up front, or cut off while it arrived. */
export class TooLarge extends Error {
  constructor(readonly declared?: number) {
    super('response body over the size cap');
  }
}

/**
 * One request through the pool's own dispatch, with a handler that keeps only what a
 * call needs: the status, the raw headers (read by name when a message or a retry
 * needs one), and the body's chunks up to `maxBody` (a declared Content-Length over it
 * ends the request before its body is read). undici's request() wraps every answer in
 * a Readable stream, an AsyncResource and a parsed header object: with thousands of
 * small answers (per-PRG transfers) that is most of what a request of ours costs
 * beyond the bare client's.
 *
 * Timeouts: headersTimeout and bodyTimeout (undici's own), and `timeoutMs` for all of
 * it, the wait for a connection included: requests whose timeouts end in the same
 * 25 ms share one timer, which ends those still running (up to 25 ms late). The
 * caller's signal ends it at once.
 */
export function exchange(
  dispatcher: Dispatcher,
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
  maxBody: number,
  caller: AbortSignal | undefined,
): Promise<Exchanged> {
  // URLs here are as `new URL().toString()` prints them: origin up to the first slash after the scheme's.
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  const origin = slash < 0 ? url : url.slice(0, slash);
  const path = slash < 0 ? '/' : url.slice(slash);
  return new Promise<Exchanged>((resolve, reject) => {
    let abort: ((reason?: Error) => void) | undefined;
    let reason: Error | undefined;
    let settled = false;
    let status = 0;
    let raw: Array<Buffer | string> = [];
    const chunks: Buffer[] = [];
    let size = 0;
    const onCallerAbort = () => end(caller!.reason instanceof Error ? caller!.reason : new Error('aborted'));
    const settle = () => {
      settled = true;
      timer.fire = undefined;
      caller?.removeEventListener('abort', onCallerAbort);
    };
    /** Ends the request with `err`: rejected now, the connection's part aborted as soon as undici lets it. */
    const end = (err: Error) => {
      if (settled) return;
      settle();
      reason = err;
      abort?.(err);
      reject(err);
    };
    const handler: Dispatcher.DispatchHandler = {
      onConnect(a: (err?: Error) => void) {
        if (reason) return a(reason);
        abort = a;
      },
      onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null) {
        if (statusCode < 200) return true;
        status = statusCode;
        raw = rawHeaders ?? [];
        const declared = Number(headerOf(raw, 'content-length') ?? 0);
        if (declared > maxBody) {
          end(new TooLarge(declared));
          return false;
        }
        return true;
      },
      onData(chunk: Buffer) {
        size += chunk.length;
        if (size > maxBody) {
          end(new TooLarge());
          return false;
        }
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        if (settled) return;
        settle();
        const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        const headersRead = raw;
        resolve({ status, text, header: (name) => headerOf(headersRead, name) });
      },
      onError(err: Error) {
        if (settled) return;
        settle();
        reject(err);
      },
    };
    const timer = onTimeout(timeoutMs, () => end(new DOMException('The operation was aborted due to timeout', 'TimeoutError')));
    if (caller) {
      if (caller.aborted) return onCallerAbort();
      caller.addEventListener('abort', onCallerAbort, { once: true });
    }
    try {
      dispatcher.dispatch({ origin, path, method: method as Dispatcher.HttpMethod, headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }, handler);
    } catch (err) {
      end(err as Error);
    }
  });
}

/** A header of an answer by its lower-case name (the first one), from undici's raw name/value list. */
function headerOf(raw: ReadonlyArray<Buffer | string>, name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === name.length && k.toString('latin1').toLowerCase() === name) return raw[i + 1]!.toString('latin1');
  }
  return undefined;
}

/**
 * Timers shared by the requests whose timeouts end in the same 25 ms: a timer per
 * request shows with thousands of requests in flight. A bucket holds one entry per
 * request; a request that ends clears its entry's callback (so nothing of it is kept
 * until the timer runs), the timer runs those still set.
 */
const BUCKET_MS = 25;
type Pending = { fire: (() => void) | undefined };
const buckets = new Map<number, Pending[]>();

function onTimeout(timeoutMs: number, fire: () => void): Pending {
  const at = Math.ceil((Date.now() + timeoutMs) / BUCKET_MS) * BUCKET_MS;
  let bucket = buckets.get(at);
  if (!bucket) {
    const b: Pending[] = (bucket = []);
    buckets.set(at, b);
    setTimeout(() => {
      buckets.delete(at);
      for (const r of b) r.fire?.();
    }, at - Date.now()).unref();
  }
  const entry: Pending = { fire };
  bucket.push(entry);
  return entry;
}
