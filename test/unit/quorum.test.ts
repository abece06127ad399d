import { describe, expect, it } from 'vitest';
import { checkQuorumWithout, compareIds, describeBlockers, quorumNeeded } from '../../src/cluster/quorum.js';
import { pad, prg } from '../support/fixtures.js';

describe('checkQuorumWithout', () => {
  it('passes when every touched 3-voter PRG keeps 2 healthy replicas', () => {
    const prgs = [prg('prg-1', ['node-1', 'node-2', 'node-3']), prg('prg-2', ['node-1', 'node-4', 'node-5'])];
    const v = checkQuorumWithout(prgs, ['node-1']);
    expect(v).toEqual({ ok: true, checked: 2, blockers: [] });
  });

  it('ignores PRGs with no replica on a leaving node, even broken ones', () => {
    const prgs = [
      prg('prg-1', ['node-1', 'node-2', 'node-3']),
      prg('prg-2', ['node-4', ['node-5', 'down'], ['node-6', 'down']], { leader: null, strict_fallback: true }),
    ];
    const v = checkQuorumWithout(prgs, ['node-1']);
    expect(v.ok).toBe(true);
    expect(v.checked).toBe(1);
  });

  it('blocks a degraded PRG: one replica lagging elsewhere', () => {
    const prgs = [prg('prg-7', ['node-3', 'node-1', ['node-5', 'lagging']])];
    const v = checkQuorumWithout(prgs, ['node-3']);
    expect(v.ok).toBe(false);
    expect(v.checked).toBe(1);
    expect(v.blockers).toEqual([
      {
        prg: 'prg-7',
        reason: 'quorum',
        voters: 3,
        needed: 2,
        healthyRemaining: 1,
        unavailable: [
          { node: 'node-3', state: 'healthy', leaving: true },
          { node: 'node-5', state: 'lagging', leaving: false },
        ],
      },
    ]);
  });

  it.each(['down', 'replaying', 'lagging'] as const)('a replica %s elsewhere does not count', (state) => {
    const v = checkQuorumWithout([prg('prg-1', ['node-1', ['node-2', state], 'node-3'])], new Set(['node-3']));
    expect(v.ok).toBe(false);
    expect(v.blockers[0]?.unavailable).toContainEqual({ node: 'node-2', state, leaving: false });
    expect(v.blockers[0]?.healthyRemaining).toBe(1);
  });

  it('a leaving replica that is already unhealthy is listed once, as leaving, with its state', () => {
    const v = checkQuorumWithout([prg('prg-1', ['node-1', ['node-2', 'down'], 'node-3'])], ['node-2']);
    // node-2 counted nothing anyway: 2 healthy remain
    expect(v.ok).toBe(true);
    const v2 = checkQuorumWithout([prg('prg-1', ['node-1', ['node-2', 'down'], 'node-3'])], ['node-2', 'node-3']);
    expect(v2.blockers[0]?.unavailable).toEqual([
      { node: 'node-2', state: 'down', leaving: true },
      { node: 'node-3', state: 'healthy', leaving: true },
    ]);
  });

  it('accepts a Set or an array, and an empty leaving set checks nothing', () => {
    const prgs = [prg('prg-1', ['node-1', ['node-2', 'down'], 'node-3'])];
    expect(checkQuorumWithout(prgs, new Set(['node-1']))).toEqual(checkQuorumWithout(prgs, ['node-1']));
    expect(checkQuorumWithout(prgs, [])).toEqual({ ok: true, checked: 0, blockers: [] });
  });

  it('5-voter PRGs tolerate two leaving nodes but not three', () => {
    const five = prg('prg-5', ['node-1', 'node-2', 'node-3', 'node-4', 'node-5']);
    expect(checkQuorumWithout([five], ['node-1', 'node-2']).ok).toBe(true);
    const v = checkQuorumWithout([five], ['node-1', 'node-2', 'node-3']);
    expect(v.blockers[0]).toMatchObject({ reason: 'quorum', voters: 5, needed: 3, healthyRemaining: 2 });
    // one down elsewhere: a single node can still go, two cannot
    const degraded = prg('prg-5', ['node-1', 'node-2', 'node-3', 'node-4', ['node-5', 'down']]);
    expect(checkQuorumWithout([degraded], ['node-1']).ok).toBe(true);
    expect(checkQuorumWithout([degraded], ['node-1', 'node-2']).ok).toBe(false);
  });

  it('two leaving nodes of one 3-voter PRG block it', () => {
    const v = checkQuorumWithout([prg('prg-1', ['node-1', 'node-2', 'node-3'])], ['node-1', 'node-2']);
    expect(v.blockers[0]).toMatchObject({ reason: 'quorum', healthyRemaining: 1 });
  });

  it('blocks a PRG without a leader even with quorum', () => {
    const v = checkQuorumWithout([prg('prg-1', ['node-1', 'node-2', 'node-3'], { leader: null })], ['node-1']);
    expect(v.blockers).toEqual([
      {
        prg: 'prg-1',
        reason: 'no_leader',
        voters: 3,
        needed: 2,
        healthyRemaining: 2,
        unavailable: [{ node: 'node-1', state: 'healthy', leaving: true }],
      },
    ]);
  });

  it('blocks a PRG in strict fallback', () => {
    const v = checkQuorumWithout([prg('prg-1', ['node-1', 'node-2', 'node-3'], { strict_fallback: true })], ['node-2']);
    expect(v.blockers[0]?.reason).toBe('strict_fallback');
  });

  it('one entry per PRG, quorum wins over no_leader over strict_fallback', () => {
    const v = checkQuorumWithout(
      [
        prg('prg-a', ['node-1', ['node-2', 'down'], 'node-3'], { leader: null, strict_fallback: true }),
        prg('prg-b', ['node-1', 'node-2', 'node-3'], { leader: null, strict_fallback: true }),
      ],
      ['node-1'],
    );
    expect(v.blockers.map((b) => [b.prg, b.reason])).toEqual([
      ['prg-a', 'quorum'],
      ['prg-b', 'no_leader'],
    ]);
  });

  it('orders blockers by PRG id naturally, regardless of input order', () => {
    const ids = ['prg-10', 'prg-2', 'prg-1', 'prg-b', 'prg-a'];
    const prgs = ids.map((id) => prg(id, ['node-1', 'node-2', ['node-3', 'replaying']]));
    const v = checkQuorumWithout(prgs, ['node-1']);
    expect(v.blockers.map((b) => b.prg)).toEqual(['prg-1', 'prg-2', 'prg-10', 'prg-a', 'prg-b']);
  });

  it('counts two replicas on the leaving node as two leaving voters', () => {
    const v = checkQuorumWithout([prg('prg-1', ['node-1', 'node-1', 'node-2'])], ['node-1']);
    expect(v.blockers[0]).toMatchObject({ reason: 'quorum', healthyRemaining: 1 });
    expect(v.blockers[0]?.unavailable).toHaveLength(2);
  });
});

describe('quorumNeeded / compareIds', () => {
  it('majority of voters', () => {
    expect([1, 2, 3, 4, 5, 7].map(quorumNeeded)).toEqual([1, 2, 2, 3, 3, 4]);
  });
  it('natural, total order', () => {
    const ids = ['node-10', 'node-9', 'node-1', 'node-01', 'a', 'node-1-2', 'node-1-10'];
    expect([...ids].sort(compareIds)).toEqual(['a', 'node-01', 'node-1', 'node-1-2', 'node-1-10', 'node-9', 'node-10']);
    expect(compareIds('x', 'x')).toBe(0);
    expect(Math.sign(compareIds('node-01', 'node-1'))).toBe(-Math.sign(compareIds('node-1', 'node-01')));
  });
});

describe('describeBlockers', () => {
  it('names every blocking PRG and each unavailable replica with its state', () => {
    const prgs = [
      prg('prg-7', ['node-3', 'node-1', ['node-5', 'down']]),
      prg('prg-2', ['node-3', ['node-4', 'lagging'], ['node-6', 'replaying']]),
      prg('prg-9', ['node-3', 'node-1', 'node-2']),
    ];
    const v = checkQuorumWithout(prgs, ['node-3']);
    const text = describeBlockers(v, ['node-3']);
    const lines = text.split('\n');
    expect(lines[0]).toContain('node-3');
    expect(lines[0]).toContain('2 of 3');
    expect(lines[1]).toContain('prg-2');
    expect(lines[1]).toContain('node-3 (leaving)');
    expect(lines[1]).toContain('node-4 (lagging)');
    expect(lines[1]).toContain('node-6 (replaying)');
    expect(lines[2]).toContain('prg-7');
    expect(lines[2]).toContain('node-5 (down)');
    expect(text).not.toContain('prg-9');
    const last = lines[lines.length - 1] ?? '';
    expect(last).toMatch(/lagging\/replaying replicas to catch up/);
    expect(last).toMatch(/restore the down node/);
    expect(last).toMatch(/restart a different node first/);
  });

  it('tailors the suggestion to the states present', () => {
    const v = checkQuorumWithout([prg('prg-1', ['node-1', ['node-2', 'down'], 'node-3'])], ['node-1']);
    const text = describeBlockers(v, ['node-1']);
    expect(text).toContain('restore the down node');
    expect(text).not.toContain('catch up');
    const nl = checkQuorumWithout([prg('prg-1', ['node-1', 'node-2', 'node-3'], { leader: null })], ['node-1']);
    expect(describeBlockers(nl, ['node-1'])).toContain('prg-1: has no leader');
    expect(describeBlockers(nl, ['node-1'])).toContain('elect a leader');
    const sf = checkQuorumWithout([prg('prg-1', ['node-1', 'node-2', 'node-3'], { strict_fallback: true })], ['node-1']);
    expect(describeBlockers(sf, ['node-1'])).toContain('strict fallback');
  });

  it('shows a leaving replica that is itself unhealthy as "leaving, <state>"', () => {
    const v = checkQuorumWithout([prg('prg-1', ['node-1', ['node-2', 'lagging'], 'node-3'])], ['node-2', 'node-3']);
    expect(describeBlockers(v, ['node-3', 'node-2'])).toContain('node-2 (leaving, lagging), node-3 (leaving)');
    expect(describeBlockers(v, ['node-3', 'node-2'])).toContain('nodes node-2, node-3');
  });

  it('details max entries, then still names every other blocking PRG, grouped by what blocks it', () => {
    const prgs = Array.from({ length: 60 }, (_, i) => prg(`prg-${pad(i)}`, ['node-1', 'node-2', ['node-3', 'down']]));
    const v = checkQuorumWithout(prgs, ['node-1']);
    const text = describeBlockers(v, ['node-1']);
    for (let i = 0; i < 60; i++) expect(text).toContain(`prg-${pad(i)}`);
    expect(text).toContain('and 10 more');
    expect(text).toMatch(/prg-0050, prg-0051, .*prg-0059 \(unavailable: node-1 \(leaving\), node-3 \(down\)\)/);
    const five = describeBlockers(v, ['node-1'], 5);
    expect(five.split('\n').filter((l) => l.startsWith('  prg-'))).toHaveLength(5);
    expect(five).toContain('and 55 more');
  });

  it('says so when nothing blocks', () => {
    const v = checkQuorumWithout([prg('prg-1', ['node-1', 'node-2', 'node-3'])], ['node-1']);
    expect(describeBlockers(v, ['node-1'])).toMatch(/keeps a quorum/);
  });
});
