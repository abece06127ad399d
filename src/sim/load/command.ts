/**
 * `quantum-roll sim load`: MQTT load through the front door of a running simulator (or
 * any `--front-door host:port`), ending with the client-impact report.
 *
 * It ends after `--duration`, when `--until-roll` / `--until-journal <file>` shows the
 * roll over, when `--until-file <file>` exists, or on SIGINT/SIGTERM (a second signal
 * exits at once, 130). Exit 0 when nothing was lost, every client is connected at the
 * end and no draining node accepted a CONNECT; 1 otherwise; 2 on bad input.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runningSim } from '../cli-support.js';
import { readSimJson, type SimInfo } from '../config-files.js';
import { drainWindows, readCalls, readJournal, rollEnded } from './record.js';
import { clean, renderReport, type LoadReport } from './report.js';
import { runLoad } from './run.js';
import { frontDoor, identifierFor } from './target.js';

/** `30s`, `500ms`, `2m`, or a plain number of seconds. */
export function parseDurationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration like 30s, 500ms or 2m, got "${v}"`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000);
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--${name} must be a positive integer`);
    return n;
  };
}

function share(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`--${name} must be a number in 0..1 (a share of the clients), got "${v}"`);
    return n;
  };
}

function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`--${name} must be a positive number`);
    return n;
  };
}

export function parseMix(v: string): { v5: number; v311: number } {
  const m = /^(\d+):(\d+)$/.exec(v.trim());
  if (!m || Number(m[1]) + Number(m[2]) === 0) throw new InvalidArgumentError(`--mix must be <mqtt5>:<mqtt3.1.1>, e.g. 2:1, got "${v}"`);
  return { v5: Number(m[1]), v311: Number(m[2]) };
}

interface LoadFlags {
  stateDir: string;
  clients: number;
  rate: number;
  qos: string;
  duration?: number;
  untilRoll?: boolean;
  untilJournal?: string;
  untilFile?: string;
  frontDoor?: string;
  mix: { v5: number; v311: number };
  drainTimeout: number;
  giveUpShare: number;
  json?: boolean;
  table?: boolean;
}

/** The journal of the roll that uses the simulator's generated config (its default state dir). */
export const simJournal = (stateDir: string): string => path.join(stateDir, '.quantum-roll', 'journal.json');

async function loadAction(flags: LoadFlags): Promise<void> {
  const stateDir = path.resolve(flags.stateDir);
  const err = (s: string): void => {
    process.stderr.write(s + '\n');
  };
  let info: SimInfo | null = await runningSim(stateDir);
  if (!info && !flags.frontDoor) info = readSimJson(stateDir);
  let door;
  try {
    door = frontDoor(flags.frontDoor, flags.frontDoor ? null : info);
  } catch (e) {
    err((e as Error).message);
    process.exitCode = 2;
    return;
  }
  if (door.note) err(`note: ${door.note}`);
  const journal = flags.untilJournal ? path.resolve(flags.untilJournal) : flags.untilRoll ? simJournal(stateDir) : undefined;
  const initial = journal ? readJournal(journal) : null;
  const untilFile = flags.untilFile ? path.resolve(flags.untilFile) : undefined;
  if (flags.duration === undefined && !journal && !untilFile) err('load runs until SIGINT/SIGTERM (or give --duration, --until-roll, --until-journal, --until-file)');
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) process.exit(130);
    err(`${sig}: stopping the load, draining, then the report (again to exit at once)`);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const calls = info ? path.join(info.stateDir, 'calls.ndjson') : undefined;
  try {
    const { report } = await runLoad({
      clients: flags.clients,
      ratePerS: flags.rate,
      targets: door.targets,
      mix: flags.mix,
      ...(flags.duration !== undefined ? { durationMs: flags.duration } : {}),
      until: () => (journal ? rollEnded(initial, readJournal(journal)) : false) || (untilFile ? existsSync(untilFile) : false),
      signal: ac.signal,
      drainTimeoutMs: flags.drainTimeout,
      giveUpShare: flags.giveUpShare,
      ...(info ? { simStateDir: info.stateDir } : {}),
      onProgress: err,
      identifier: identifierFor(door),
      drainWindows: (until) => {
        const lines = calls ? readCalls(calls) : null;
        return lines ? drainWindows(lines, until) : null;
      },
    });
    printReport(report, flags);
    process.exitCode = clean(report) ? 0 : 1;
  } catch (e) {
    err(`load failed: ${(e as Error).message}`);
    process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function printReport(report: LoadReport, flags: LoadFlags): void {
  if (flags.json || (!flags.table && !process.stdout.isTTY)) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(`client impact:\n${renderReport(report)}\n`);
}

export function loadCommand(stateDirOption: () => Option): Command {
  return new Command('load')
    .description('run MQTT clients through the front door (QoS 1, persistent sessions) and report the client impact')
    .addOption(stateDirOption())
    .option('--clients <n>', 'number of clients', positiveInt('clients'), 100)
    .option('--rate <msg/s>', 'total publish rate over all clients', positive('rate'), 200)
    .addOption(new Option('--qos <qos>', 'QoS of the published messages').choices(['1']).default('1'))
    .option('--duration <d>', 'stop publishing after this long (30s, 2m, 500ms)', parseDurationMs)
    .option('--until-roll', 'stop when the roll using the simulator config ends (its journal <state-dir>/.quantum-roll/journal.json)')
    .option('--until-journal <file>', 'stop when this quantum-roll journal shows its run over')
    .option('--until-file <file>', 'stop when this file exists')
    .option('--front-door <host:port>', 'where clients connect (default: the simulator HAProxy frontend, else its nodes)')
    .option('--mix <v5:v311>', 'MQTT 5 to MQTT 3.1.1 clients', parseMix, { v5: 2, v311: 1 })
    .option('--drain-timeout <d>', 'bound of the final drain', parseDurationMs, 30_000)
    .option(
      '--give-up-share <0..1>',
      'share of the clients that, like stock mqtt.js, never come back after a refused CONNACK or a DISCONNECT with a reason code (reported as gave_up, apart from stranded clients)',
      share('give-up-share'),
      0,
    )
    .option('--json', 'one JSON document on stdout (the default off a terminal)')
    .option('--table', 'the table even off a terminal')
    .action(loadAction);
}
