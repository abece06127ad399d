/**
 * One text table for every command: columns padded to the widest cell, two spaces
 * apart, the last column unpadded, trailing blanks trimmed. Widths count what the
 * terminal shows: ANSI colour codes in a cell take no room.
 */

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** The width a string takes on a terminal, ignoring ANSI colour codes. */
export function visibleWidth(s: string): number {
  return s.replace(ANSI, '').length;
}

/** `s` padded with spaces to `width` visible columns. */
export function padVisible(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - visibleWidth(s)));
}

/** The header line, then one line per row; `indent` starts every line. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], indent = ''): string[] {
  const widths = header.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ''))));
  const line = (r: readonly string[]) => `${indent}${r.map((c, i) => (i === r.length - 1 ? c : padVisible(c, widths[i] ?? 0))).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}
