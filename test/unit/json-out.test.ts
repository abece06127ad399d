// The outcome's JSON is written member by member (render/json-out.ts): the bytes must be JSON.stringify's.
import { describe, expect, it } from 'vitest';
import { writeJsonLine } from '../../src/render/json-out.js';

function streamed(v: unknown, depth?: number): { text: string; writes: number } {
  const parts: string[] = [];
  writeJsonLine((t) => parts.push(t), v, depth);
  return { text: parts.join(''), writes: parts.length };
}

describe('writeJsonLine', () => {
  const shapes: Record<string, unknown> = {
    'a plan-like document': {
      ok: true,
      schema: 'quantum-roll/plan@1',
      skipped: undefined,
      fn: () => 1,
      nodes: { 'node-1': { wave: 1, prgs_led: ['prg-0001', 'prg-0002'], note: 'wait ≤ 10s "quoted" \\ back\nslash', gone: undefined }, 'node-2': null },
      waves: [{ index: 1, nodes: ['node-1'] }, undefined, () => 2, Symbol('s')],
      at: new Date(Date.UTC(2026, 11, 1)),
      nested: { deeper: { deepest: [1, { x: undefined, y: [undefined] }] } },
      num: [0, -0, 1.5, NaN, Infinity],
      empty: { o: {}, a: [] },
      withToJSON: { toJSON: () => ({ replaced: true }) },
      nullProto: Object.assign(Object.create(null) as object, { a: 1 }),
    },
    'a top-level array': [1, 'two', { three: 3, no: undefined }, [undefined]],
    'a string': 'just ≤ text',
    'null': null,
    'a number': 42,
  };
  for (const [name, v] of Object.entries(shapes)) {
    it(`${name}: the same bytes as JSON.stringify, then a newline, at every depth`, () => {
      for (const depth of [0, 1, 2, 5]) expect(streamed(v, depth).text).toBe(`${JSON.stringify(v)}\n`);
    });
  }

  it('a large document goes out in chunks, not as one string', () => {
    const nodes = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`node-${i + 1}`, { wave: i + 1, prgs_led: Array.from({ length: 20 }, (_, j) => `prg-${i}-${j}`) }]));
    const doc = { ok: true, nodes };
    const r = streamed(doc);
    expect(r.text).toBe(`${JSON.stringify(doc)}\n`);
    expect(r.writes).toBeGreaterThan(5);
  });
});
