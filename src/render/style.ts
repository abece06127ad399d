/**
 * The one colour policy of every text the tool draws (tables: render/table.ts).
 *
 * Colour only on a TTY; off with `--no-color`, a non-empty NO_COLOR (no-color.org) or
 * TERM=dumb; on with FORCE_COLOR (non-empty, not "0"), which wins over the last two
 * (the decision itself: util/color.ts, shared with the logger's terminal warnings).
 */
export type Painter = Record<'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan', (s: string) => string>;

export { colorFor, disableColor } from '../util/color.js';

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
