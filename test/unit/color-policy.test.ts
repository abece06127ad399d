/** The one colour policy (util/color.ts, re-exported by render/style.ts): the environment matrix and --no-color. */
import { afterEach, describe, expect, it } from 'vitest';
import { colorFor, disableColor, painter } from '../../src/render/style.js';

const tty = { isTTY: true };
const pipe = { isTTY: false };

describe('colour policy', () => {
  afterEach(() => disableColor(false));

  const cases: Array<[string, { isTTY?: boolean }, NodeJS.ProcessEnv, boolean]> = [
    ['a TTY', tty, { TERM: 'xterm-256color' }, true],
    ['a pipe', pipe, { TERM: 'xterm-256color' }, false],
    ['a stream that says nothing', {}, {}, false],
    ['NO_COLOR=1 on a TTY', tty, { NO_COLOR: '1' }, false],
    ['an empty NO_COLOR on a TTY (no-color.org: ignored)', tty, { NO_COLOR: '' }, true],
    ['TERM=dumb on a TTY', tty, { TERM: 'dumb' }, false],
    ['FORCE_COLOR=1 on a pipe', pipe, { FORCE_COLOR: '1' }, true],
    ['FORCE_COLOR=1 over NO_COLOR', pipe, { FORCE_COLOR: '1', NO_COLOR: '1' }, true],
    ['FORCE_COLOR=1 over TERM=dumb', tty, { FORCE_COLOR: '1', TERM: 'dumb' }, true],
    ['FORCE_COLOR=0 on a TTY: not forced, the TTY decides', tty, { FORCE_COLOR: '0' }, true],
    ['FORCE_COLOR=0 on a pipe', pipe, { FORCE_COLOR: '0' }, false],
    ['FORCE_COLOR=false on a pipe', pipe, { FORCE_COLOR: 'false' }, false],
    ['an empty FORCE_COLOR on a pipe', pipe, { FORCE_COLOR: '' }, false],
  ];
  for (const [name, stream, env, want] of cases) {
    it(`${name}: ${want ? 'colour' : 'none'}`, () => expect(colorFor(stream, env)).toBe(want));
  }

  it('--no-color wins over a TTY and over FORCE_COLOR', () => {
    disableColor();
    expect(colorFor(tty, {})).toBe(false);
    expect(colorFor(pipe, { FORCE_COLOR: '1' })).toBe(false);
    disableColor(false);
    expect(colorFor(tty, {})).toBe(true);
  });

  it('the painter adds codes only when told to', () => {
    expect(painter(false).red('x')).toBe('x');
    expect(painter(true).red('x')).toBe('\x1b[31mx\x1b[0m');
  });
});
