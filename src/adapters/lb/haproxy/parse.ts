/**
 * Parsers for the two HAProxy answers the adapter reads. Columns are looked up by the
 * names in each answer's header line, never by position, so added columns in newer
 * HAProxy versions do not shift anything.
 */

/** `srv_admin_state` bits (HAProxy include/haproxy/server-t.h, enum srv_admin). */
export const ADMIN = {
  FMAINT: 0x01, // forced into maintenance (set server state maint)
  IMAINT: 0x02, // inherited from a tracked server
  CMAINT: 0x04, // "disabled" in the configuration
  FDRAIN: 0x08, // forced into drain (set server state drain)
  IDRAIN: 0x10, // inherited from a tracked server
  RMAINT: 0x20, // DNS resolution failure
  HMAINT: 0x40, // FQDN set from the CLI; not a maintenance state
} as const;
export const ADMIN_MAINT_MASK = ADMIN.FMAINT | ADMIN.IMAINT | ADMIN.CMAINT | ADMIN.RMAINT;
export const ADMIN_DRAIN_MASK = ADMIN.FDRAIN | ADMIN.IDRAIN;

/** `srv_op_state` (enum srv_state). */
export const OP = { STOPPED: 0, STARTING: 1, RUNNING: 2, STOPPING: 3 } as const;

/** `srv_check_state` bits (CHK_ST_*). */
export const CHECK_STATE = { INPROGRESS: 0x01, CONFIGURED: 0x02, ENABLED: 0x04, PAUSED: 0x08 } as const;

export interface ServerStateRow {
  backend: string;
  server: string;
  opState: number;
  adminState: number;
  checkState: number;
  raw: Record<string, string>;
}

/** Thrown when an answer does not have the expected shape; the caller adds socket and command. */
export class UnexpectedAnswer extends Error {}

/**
 * `show servers state [<backend>]`:
 * ```
 * 1
 * # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
 * 3 mqtt 1 node-1 127.0.0.1 2 0 1 1 3 15 3 1 6 0 ...
 * ```
 * Anything else (e.g. "Can't find backend.") is an error answer.
 */
export function parseServersState(text: string): ServerStateRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const [version, header, ...rows] = lines;
  if (version === undefined || !/^\d+$/.test(version.trim()) || header === undefined || !header.startsWith('# ')) {
    throw new UnexpectedAnswer(text.trim() === '' ? 'empty answer' : firstLines(text));
  }
  const cols = header.slice(2).trim().split(/\s+/);
  const idx = (name: string) => {
    const i = cols.indexOf(name);
    if (i < 0) throw new UnexpectedAnswer(`no column "${name}" in the header of "show servers state"`);
    return i;
  };
  const iBe = idx('be_name');
  const iSrv = idx('srv_name');
  const iOp = idx('srv_op_state');
  const iAdmin = idx('srv_admin_state');
  const iCheck = cols.indexOf('srv_check_state');
  return rows.map((line) => {
    const f = line.trim().split(/\s+/);
    const raw: Record<string, string> = {};
    cols.forEach((c, i) => (raw[c] = f[i] ?? ''));
    const num = (i: number, name: string) => {
      const v = Number(f[i]);
      if (f[i] === undefined || !Number.isInteger(v)) throw new UnexpectedAnswer(`bad ${name} ${JSON.stringify(f[i] ?? '')} in line ${JSON.stringify(line)}`);
      return v;
    };
    return {
      backend: f[iBe] ?? '',
      server: f[iSrv] ?? '',
      opState: num(iOp, 'srv_op_state'),
      adminState: num(iAdmin, 'srv_admin_state'),
      checkState: iCheck >= 0 ? num(iCheck, 'srv_check_state') : 0,
      raw,
    };
  });
}

/** One row of `show stat`, keyed by the header's column names. */
export type StatRow = Record<string, string>;

/**
 * `show stat [...]` CSV: the first line is `# pxname,svname,...`. Fields are
 * CSV-quoted by HAProxy when they contain a comma or a quote.
 */
export function parseStatCsv(text: string): StatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const [header, ...rows] = lines;
  if (header === undefined || !header.startsWith('# pxname,')) {
    throw new UnexpectedAnswer(text.trim() === '' ? 'empty answer' : firstLines(text));
  }
  const cols = splitCsvLine(header.slice(2));
  return rows.map((line) => {
    const f = splitCsvLine(line);
    const row: StatRow = {};
    cols.forEach((c, i) => {
      if (c !== '' && c !== '-') row[c] = f[i] ?? '';
    });
    return row;
  });
}

export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur === '') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** `check_status` without the "* " HAProxy prepends while a check is in progress. */
export function checkStatusOf(row: StatRow): string {
  return (row.check_status ?? '').replace(/^\*\s*/, '').trim();
}

/** Check results that mean "the last health check passed". */
export function checkPassed(checkStatus: string): boolean {
  return /^(L4OK|L6OK|L7OK|L7OKC)$/.test(checkStatus);
}

/** Check results that carry no verdict yet (never ran, or checks off). */
export function checkPending(checkStatus: string): boolean {
  return checkStatus === '' || checkStatus === 'INI' || checkStatus === 'UNK';
}

function firstLines(text: string): string {
  const t = text.trim().split('\n').slice(0, 3).join(' ');
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}
