/**
 * One JSON document on a stream without building it as one string: a plan of 1,000 nodes
 * is an 8 MB document (16 MB as a two-byte string), and `JSON.stringify` of it plus the
 * write's copy was the largest single allocation of a `plan --all`. The top levels are
 * written member by member, in chunks of about 64 kB; the bytes are exactly those of
 * `JSON.stringify(value)` (same members skipped, same escaping, `toJSON` honoured).
 */

const CHUNK = 64 * 1024;

/** Writes `JSON.stringify(value)` followed by a newline, `depth` levels streamed. */
export function writeJsonLine(write: (text: string) => void, value: unknown, depth = 2): void {
  let parts: string[] = [];
  let size = 0;
  const out = (s: string) => {
    parts.push(s);
    size += s.length;
    if (size >= CHUNK) flush();
  };
  const flush = () => {
    if (parts.length) write(parts.join(''));
    parts = [];
    size = 0;
  };
  emit(value, depth, out);
  out('\n');
  flush();
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
function omitted(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

function emit(v: unknown, depth: number, out: (s: string) => void): void {
  if (depth > 0 && Array.isArray(v)) {
    out('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out(',');
      const e: unknown = v[i];
      if (omitted(e)) out('null');
      else emit(e, depth - 1, out);
    }
    out(']');
    return;
  }
  if (depth > 0 && isPlainObject(v)) {
    out('{');
    let first = true;
    for (const k of Object.keys(v)) {
      const e = v[k];
      if (omitted(e)) continue;
      out(`${first ? '' : ','}${JSON.stringify(k)}:`);
      first = false;
      emit(e, depth - 1, out);
    }
    out('}');
    return;
  }
  out(JSON.stringify(v) ?? 'null');
}
