/** render/metrics-file.ts: the Prometheus text a run leaves for node_exporter's textfile collector. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricsReporter } from '../../src/render/metrics-file.js';
import { silentReporter } from '../../src/steps/reporter.js';

const line = (text: string, series: string): string | undefined => text.split('\n').find((l) => l.startsWith(`${series} `));
const value = (text: string, series: string): number | undefined => {
  const l = line(text, series);
  return l === undefined ? undefined : Number(l.slice(series.length + 1));
};

describe('metrics file', () => {
  it('every series exists from the first write; phases, the planned drain and durations follow the steps', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'qr-metrics-')), 'roll.prom');
    const m = metricsReporter(silentReporter, file, 'run-1', 1_700_000_000_000, { waves: [['n1'], ['n2']], done: ['n2'] });
    let text = readFileSync(file, 'utf8');
    expect(value(text, 'quantum_roll_run_started_timestamp_seconds{run_id="run-1"}')).toBe(1_700_000_000);
    expect(value(text, 'quantum_roll_run_in_progress{run_id="run-1"}')).toBe(1);
    expect(line(text, 'quantum_roll_run_finished_timestamp_seconds{run_id="run-1"}')).toBeUndefined();
    expect(value(text, 'quantum_roll_node_phase{node="n1",phase="pending"}')).toBe(1);
    expect(value(text, 'quantum_roll_node_phase{node="n1",phase="drain"}')).toBe(0);
    expect(value(text, 'quantum_roll_node_phase{node="n2",phase="done"}')).toBe(1);
    expect(value(text, 'quantum_roll_node_wave{node="n2"}')).toBe(2);
    expect(value(text, 'quantum_roll_planned_drain{node="n1"}')).toBe(0);

    m.stepStarted('n1', 'drain');
    text = readFileSync(file, 'utf8');
    expect(value(text, 'quantum_roll_node_phase{node="n1",phase="drain"}')).toBe(1);
    expect(value(text, 'quantum_roll_node_phase{node="n1",phase="pending"}')).toBe(0);
    expect(value(text, 'quantum_roll_planned_drain{node="n1"}')).toBe(1);
    expect(value(text, 'quantum_roll_run_nodes{state="running"}')).toBe(1);

    m.stepEnded('n1', 'drain', 'done', 1500, 'drained');
    m.stepStarted('n1', 'readmit');
    m.stepEnded('n1', 'readmit', 'done', 250, 'back');
    text = readFileSync(file, 'utf8');
    expect(value(text, 'quantum_roll_step_duration_seconds{node="n1",step="drain"}')).toBe(1.5);
    expect(value(text, 'quantum_roll_planned_drain{node="n1"}')).toBe(0);

    m.stepStarted('n1', 'postcheck');
    m.stepEnded('n1', 'postcheck', 'done', 10, 'ok');
    m.finish('done');
    text = readFileSync(file, 'utf8');
    expect(value(text, 'quantum_roll_node_phase{node="n1",phase="done"}')).toBe(1);
    expect(value(text, 'quantum_roll_run_in_progress{run_id="run-1"}')).toBe(0);
    expect(line(text, 'quantum_roll_run_finished_timestamp_seconds{run_id="run-1"}')).toBeDefined();
    expect(value(text, 'quantum_roll_run_nodes{state="done"}')).toBe(2);
  });

  it('an interrupted run marks the nodes it was working on interrupted; a failed step marks its node failed but keeps the drain', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'qr-metrics-')), 'roll.prom');
    const m = metricsReporter(silentReporter, file, 'run-2', Date.now(), { waves: [['a', 'b']] });
    m.stepStarted('a', 'drain');
    m.stepEnded('a', 'drain', 'failed', 5, 'LB broke');
    m.stepStarted('b', 'quiesce');
    m.finish('interrupted');
    const text = readFileSync(file, 'utf8');
    expect(value(text, 'quantum_roll_node_phase{node="a",phase="failed"}')).toBe(1);
    expect(value(text, 'quantum_roll_planned_drain{node="a"}')).toBe(1);
    expect(value(text, 'quantum_roll_node_phase{node="b",phase="interrupted"}')).toBe(1);
  });
});
