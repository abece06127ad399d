import { describe, expect, it } from 'vitest';
import { padVisible, table, visibleWidth } from '../../src/render/table.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

const red = (t: string) => `\x1b[31m${t}\x1b[0m`;

describe('table', () => {
  it('pads every column but the last to its widest cell, two spaces apart, trailing blanks trimmed', () => {
    expect(table(['NODE', 'STATE', 'NOTE'], [['node-1', 'up', ''], ['node-10', 'draining', 'x']])).toEqual([
      'NODE     STATE     NOTE',
      'node-1   up',
      'node-10  draining  x',
    ]);
  });

  it('counts visible width: a coloured cell lines up with plain ones', () => {
    const lines = table(['A', 'B'], [[red('yes'), '1'], ['no', '2']], '  ');
    expect(lines.map((l) => l.replace(ANSI, ''))).toEqual(['  A    B', '  yes  1', '  no   2']);
    expect(lines[1]).toBe(`  ${red('yes')}  1`);
  });

  it('visibleWidth and padVisible ignore ANSI codes', () => {
    expect(visibleWidth(red('abc'))).toBe(3);
    expect(padVisible(red('ab'), 4)).toBe(`${red('ab')}  `);
    expect(padVisible('abcdef', 3)).toBe('abcdef');
  });

  it('a row shorter than the header draws what it has', () => {
    expect(table(['A', 'B', 'C'], [['x']])).toEqual(['A  B  C', 'x']);
  });
});
