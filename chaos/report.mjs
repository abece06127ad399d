/**
 * Markdown tables of one or more campaign result files (`npm run chaos -- --out f.json`):
 *   node chaos/report.mjs a.json [b.json …]
 * Per file: runs, outcomes, faults drawn and applied per kind, violations, exposures and
 * findings per invariant, with the seeds that found them.
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { summarize } from './campaign.mjs';

for (const file of process.argv.slice(2)) {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const results = doc.results;
  // Result files written before the checker reported signal findings: derive them from the record.
  for (const r of results) {
    r.findings ??= r.invocations.flatMap((inv, k) => {
      const sig = r.plan?.signals?.[k];
      if (!sig || sig.early || !inv.sent || inv.sent === 'SIGKILL' || inv.code !== 128) return [];
      return [{ invariant: 'SIGINT/SIGTERM handled once the journal exists', finding: true, detail: `invocation ${k + 1} killed by ${inv.sent}` }];
    });
  }
  const s = summarize(results);
  const opts = doc.options;
  console.log(`### ${opts.mqtt ? 'MQTT campaign' : 'Campaign'} seed ${opts.seed}${opts.triggers === 'all' ? ' with --all-triggers' : opts.triggers ? ' with --triggers' : ''}${opts.exclude?.length ? ` --exclude ${opts.exclude.join(',')}` : ''}: ${s.runs} runs\n`);
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  console.log(`Median run ${Math.round(ms[ms.length >> 1] / 1000)} s; ${s.resumes} resumes; ${results.reduce((n, r) => n + r.invocations.length, 0)} CLI invocations.\n`);
  console.log('| outcome | runs |\n| --- | ---: |');
  for (const [k, v] of Object.entries(s.outcomes).sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${v} |`);
  if (s.load) {
    const l = s.load;
    console.log('\n| clients (sum over runs) | published | PUBACKed | delivered | **lost** | duplicates | **stranded** | sessions lost | **accepted while draining** (of checked) | broker CONNECT traces | disconnects | longest reconnect | runs without a load report |');
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(`| ${l.clients} | ${l.published} | ${l.acked} | ${l.delivered} | **${l.lost}** | ${l.duplicates} | **${l.stranded}** | ${l.sessions_lost} | **${l.accepted_while_draining}** (${l.accepts_checked}) | ${l.connect_traces} | ${l.disconnects} | ${l.reconnect_max_ms} ms | ${l.runs_without_report} |`);
  }
  console.log('\n| fault (applied) | count |\n| --- | ---: |');
  for (const [k, v] of Object.entries(s.faults).sort()) console.log(`| ${k} | ${v} |`);
  const rows = [];
  for (const [label, key] of [['violation', 'violations'], ['exposure', 'exposures'], ['finding', 'findings']]) {
    const byInv = new Map();
    for (const r of results) {
      for (const v of r[key] ?? []) {
        const e = byInv.get(v.invariant) ?? { n: 0, seeds: new Set() };
        e.n++;
        e.seeds.add(r.seed);
        byInv.set(v.invariant, e);
      }
    }
    for (const [inv, e] of byInv) rows.push(`| ${label} | ${inv} | ${e.n} | ${e.seeds.size} | ${[...e.seeds].slice(0, 6).join(', ')}${e.seeds.size > 6 ? ', …' : ''} |`);
  }
  console.log('\n| kind | invariant | count | runs | seeds |\n| --- | --- | ---: | ---: | --- |');
  console.log(rows.length ? rows.join('\n') : '| — | none | 0 | 0 | |');
  console.log();
}
