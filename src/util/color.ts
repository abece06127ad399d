/**
 * The colour policy (render/style.ts re-exports it with the painter; the logger's
 * terminal warnings use it too, which is why it lives on this floor).
 *
 * Colour only on a TTY; off with `--no-color` (disableColor), a non-empty NO_COLOR
 * (no-color.org) or TERM=dumb; on with FORCE_COLOR (non-empty, not "0"/"false"),
 * which wins over NO_COLOR and TERM=dumb but not over `--no-color`.
 */
let disabled = false;

/** `--no-color`: no colour anywhere in this process, whatever the environment says. */
export function disableColor(off = true): void {
  disabled = off;
}

/** Whether text written to `stream` gets colour. */
export function colorFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (disabled) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}
