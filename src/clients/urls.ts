/**
 * The URLs of an HTTP client's calls: built as `new URL()` prints them, and shown in
 * messages without the lease token.
 */

export type Query = Record<string, string | number | undefined>;

/** A URL for messages and logs: the `token` query parameter (lease token) is never shown. */
export function displayUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/g, '$1[redacted]');
}

/** `baseUrl + path` with the query's defined values, through `new URL()`. */
export function urlOf(baseUrl: string, path: string, query?: Query): string {
  const u = new URL(baseUrl + path);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
  return u.toString();
}

/**
 * The URLs of one base URL, as `urlOf` builds them, without parsing one per request: a
 * path of plain URL characters (ids are encoded by the callers) is appended as is to the
 * base URL parsed once; anything else goes through `urlOf`. (Part of B2's per-request
 * savings, with exchange.ts: BENCHMARKS.md, "The HTTP client".)
 */
export function urlBuilder(baseUrl: string): (path: string, query?: Query) => string {
  let base: string | undefined | null;
  return (path, query) => {
    if (!PLAIN_PATH.test(path)) return urlOf(baseUrl, path, query);
    if (base === undefined) base = parseBase(baseUrl) ?? null;
    if (base === null) return urlOf(baseUrl, path, query);
    let search = '';
    if (query) {
      const q = new URLSearchParams();
      for (const k in query) {
        const v = query[k];
        if (v !== undefined) q.set(k, String(v));
      }
      search = q.size ? `?${q.toString()}` : '';
    }
    return base + path + search;
  };
}

/** A path that `new URL()` would leave as it is: URL characters, no dot segments, no query or fragment. */
const PLAIN_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~!$&'()*+,;=:@%]*)+$/;

/** The base URL as `new URL()` prints it, without a trailing slash; undefined when it has a query or fragment. */
function parseBase(baseUrl: string): string | undefined {
  const u = new URL(baseUrl);
  if (u.search || u.hash || u.username || u.password) return undefined;
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}
