import { describe, expect, it } from 'vitest';
import { placementViolations } from '../../src/cluster/placement.js';
import { clusterNode, prg } from '../support/fixtures.js';

const nodes = [
  clusterNode('node-1', 'r1'),
  clusterNode('node-2', 'r2'),
  clusterNode('node-3', 'r3'),
  clusterNode('node-4', 'r1'),
  clusterNode('node-5', 'r2'),
  clusterNode('node-6', 'r3'),
];

describe('placementViolations', () => {
  it('a clean placement has none under either policy', () => {
    const prgs = [prg('prg-1', ['node-1', 'node-2', 'node-3']), prg('prg-2', ['node-4', 'node-5', 'node-6'])];
    expect(placementViolations(prgs, nodes, 'one_replica_per_rack')).toEqual([]);
    expect(placementViolations(prgs, nodes, 'one_replica_per_node')).toEqual([]);
  });

  it('two replicas on one node is always same_node', () => {
    const prgs = [prg('prg-1', ['node-1', 'node-1', 'node-2'])];
    const expected = [{ prg: 'prg-1', kind: 'same_node', where: 'node-1', nodes: ['node-1'], replicas: 2 }];
    expect(placementViolations(prgs, nodes, 'one_replica_per_node')).toEqual(expected);
    expect(placementViolations(prgs, nodes, 'one_replica_per_rack')).toEqual(expected);
  });

  it('three replicas on one node count as 3', () => {
    const v = placementViolations([prg('prg-1', ['node-2', 'node-2', 'node-2'])], nodes, 'one_replica_per_node');
    expect(v).toEqual([{ prg: 'prg-1', kind: 'same_node', where: 'node-2', nodes: ['node-2'], replicas: 3 }]);
  });

  it('two nodes of one rack are same_rack only under one_replica_per_rack', () => {
    const prgs = [prg('prg-1', ['node-4', 'node-1', 'node-2'])];
    expect(placementViolations(prgs, nodes, 'one_replica_per_node')).toEqual([]);
    expect(placementViolations(prgs, nodes, 'one_replica_per_rack')).toEqual([
      { prg: 'prg-1', kind: 'same_rack', where: 'r1', nodes: ['node-1', 'node-4'], replicas: 2 },
    ]);
  });

  it('same node plus another node of its rack: both violations, same_node first', () => {
    const prgs = [prg('prg-1', ['node-1', 'node-1', 'node-4'])];
    expect(placementViolations(prgs, nodes, 'one_replica_per_rack')).toEqual([
      { prg: 'prg-1', kind: 'same_node', where: 'node-1', nodes: ['node-1'], replicas: 2 },
      { prg: 'prg-1', kind: 'same_rack', where: 'r1', nodes: ['node-1', 'node-4'], replicas: 3 },
    ]);
  });

  it('all three replicas in one rack, 5 voters over two racks', () => {
    const more = [...nodes, clusterNode('node-7', 'r1'), clusterNode('node-8', 'r2')];
    expect(placementViolations([prg('prg-1', ['node-7', 'node-1', 'node-4'])], more, 'one_replica_per_rack')).toEqual([
      { prg: 'prg-1', kind: 'same_rack', where: 'r1', nodes: ['node-1', 'node-4', 'node-7'], replicas: 3 },
    ]);
    const five = prg('prg-5', ['node-1', 'node-2', 'node-4', 'node-5', 'node-3']);
    expect(placementViolations([five], more, 'one_replica_per_rack').map((v) => v.where)).toEqual(['r1', 'r2']);
  });

  it('unknown nodes are not counted for racks but noted under one_replica_per_rack', () => {
    const prgs = [prg('prg-1', ['ghost-1', 'ghost-2', 'node-1'])];
    expect(placementViolations(prgs, nodes, 'one_replica_per_node')).toEqual([]);
    expect(placementViolations(prgs, nodes, 'one_replica_per_rack')).toEqual([
      { prg: 'prg-1', kind: 'unknown_node', where: 'ghost-1', nodes: ['ghost-1'], replicas: 1 },
      { prg: 'prg-1', kind: 'unknown_node', where: 'ghost-2', nodes: ['ghost-2'], replicas: 1 },
    ]);
    // an unknown node twice is still same_node
    expect(placementViolations([prg('prg-2', ['ghost', 'ghost', 'node-1'])], nodes, 'one_replica_per_node')).toEqual([
      { prg: 'prg-2', kind: 'same_node', where: 'ghost', nodes: ['ghost'], replicas: 2 },
    ]);
  });

  it('a node with an empty rack is treated as unknown for racks', () => {
    const withBlank = [...nodes, clusterNode('node-9', ''), clusterNode('node-10', '')];
    const v = placementViolations([prg('prg-1', ['node-9', 'node-10', 'node-1'])], withBlank, 'one_replica_per_rack');
    expect(v.map((x) => [x.kind, x.where])).toEqual([
      ['unknown_node', 'node-9'],
      ['unknown_node', 'node-10'],
    ]);
  });

  it('is ordered by PRG id (natural), kind, then where, whatever the input order', () => {
    const prgs = [
      prg('prg-10', ['node-1', 'node-4', 'node-2']),
      prg('prg-2', ['node-5', 'node-2', 'node-3', 'node-6', 'node-3']),
      prg('prg-1', ['node-6', 'node-3', 'node-1']),
    ];
    const v = placementViolations(prgs, nodes, 'one_replica_per_rack');
    expect(v.map((x) => `${x.prg}/${x.kind}/${x.where}`)).toEqual([
      'prg-1/same_rack/r3',
      'prg-2/same_node/node-3',
      'prg-2/same_rack/r2',
      'prg-2/same_rack/r3',
      'prg-10/same_rack/r1',
    ]);
    expect(placementViolations([...prgs].reverse(), [...nodes].reverse(), 'one_replica_per_rack')).toEqual(v);
  });

  it('handles empty input', () => {
    expect(placementViolations([], [], 'one_replica_per_rack')).toEqual([]);
  });
});
