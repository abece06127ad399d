/**
 * The one colour policy and the one table of every text the tool draws.
 *
 * Colour only on a TTY; off with a non-empty NO_COLOR (no-color.org) or TERM=dumb; on
 * with FORCE_COLOR (non-empty, not "0"), which wins over both. Tables pad by visible
 * width: colour codes take no column.
 */
export type Painter = Record<'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan', (s: string) => string>;

/** Whether text written to `stream` gets colour. */
export function colorFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

const CODES = { bold: '1', dim: '2', red: '31', green: '32', yellow: '33', cyan: '36' } as const;

export function painter(color: boolean): Painter {
  const wrap = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  return {
    bold: wrap(CODES.bold),
    dim: wrap(CODES.dim),
    red: wrap(CODES.red),
    green: wrap(CODES.green),
    yellow: wrap(CODES.yellow),
    cyan: wrap(CODES.cyan),
  };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Columns a string takes on a terminal (colour codes take none). */
export const visibleLength = (s: string): number => s.replace(ANSI, '').length;

/** Left-aligned columns, two spaces apart, padded by visible width; the last column is not padded. */
export function table(header: string[], rows: string[][], indent = ''): string[] {
  const widths = header.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const pad = (c: string, w: number) => c + ' '.repeat(Math.max(0, w - visibleLength(c)));
  const fmtRow = (r: string[]) => `${indent}${r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i] ?? 0))).join('  ')}`.trimEnd();
  return [fmtRow(header), ...rows.map(fmtRow)];
}
