/**
 * `report [run-id | path.ndjson]`: a run's log turned into a self-contained HTML page
 * (default: `<state dir>/runs/<run id>.html`), markdown for a CI job summary, or text for
 * a terminal. Reads the log only (a log copied to another machine gives the same report);
 * never the cluster, never the config's secrets.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { locateConfig, defaultStateDir } from '../config/locate.js';
import { ExitCode, QrError, UsageError } from '../util/errors.js';
import { type ReportModel, UnreadableLog, readRunLog } from '../render/report/model.js';
import { colorFor, painter } from '../render/style.js';
import type { GlobalOptions } from './session.js';

export const REPORT_FORMATS = ['html', 'md', 'text'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportOptions extends GlobalOptions {
  format?: string;
  output?: string;
}

/** The state dir a report reads: --state-dir, else the one beside the config (the config need not be valid). */
function stateDirFor(opts: GlobalOptions): string {
  if (opts.stateDir) return resolve(opts.stateDir);
  const loc = locateConfig(opts.config);
  return defaultStateDir(loc.file);
}

/** The newest run logs of a directory, newest first. */
function runLogs(dir: string): Array<{ id: string; file: string; mtime: number }> {
  try {
    return readdirSync(dir)
      .filter((n) => n.endsWith('.ndjson'))
      .map((n) => {
        const file = join(dir, n);
        let mtime = 0;
        try {
          mtime = statSync(file).mtimeMs;
        } catch {
          // gone meanwhile
        }
        return { id: n.slice(0, -'.ndjson'.length), file, mtime };
      })
      .sort((a, b) => b.mtime - a.mtime || (a.id < b.id ? 1 : -1));
  } catch {
    return [];
  }
}

/** The log file a report is made of: a path, a run id in the state dir, or the newest run. */
export function resolveRunLog(arg: string | undefined, opts: GlobalOptions): { file: string; runsDir: string | null } {
  if (arg !== undefined && (arg.endsWith('.ndjson') || arg.includes('/') || (existsSync(arg) && statSync(arg).isFile()))) {
    const file = resolve(arg);
    if (!existsSync(file)) throw new UsageError(`no run log at ${file}`, { next: 'quantum-roll report <run id>, or the path of a run log (<state dir>/runs/<run id>.ndjson)' });
    return { file, runsDir: null };
  }
  const runsDir = join(stateDirFor(opts), 'runs');
  const logs = runLogs(runsDir);
  if (arg === undefined) {
    const newest = logs[0];
    if (!newest) throw new UsageError(`no run log in ${runsDir}: no run has been made with this state dir`, { next: 'quantum-roll report <path of a run log>, or pass --state-dir / --config of the run' });
    return { file: newest.file, runsDir };
  }
  if (!/^[A-Za-z0-9._-]+$/.test(arg)) throw new UsageError(`"${arg}" is not a run id (like 20261207T120656-ac638c) or a path ending in .ndjson`);
  const found = logs.find((l) => l.id === arg);
  if (!found) {
    const known = logs.slice(0, 5).map((l) => l.id);
    throw new UsageError(`no run ${arg} in ${runsDir}${known.length ? ` (newest: ${known.join(', ')})` : ' (no run log there)'}`, {
      next: 'quantum-roll report with one of those ids, a path to the log, or --state-dir / --config of the run',
    });
  }
  return { file: found.file, runsDir };
}

/** Writes `text` to `file` atomically, mode 0600 (a report names hosts, like its log). */
function writeReport(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w', 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    throw new QrError(`cannot write the report ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { next: 'pass --output with a writable path, or --format md|text for stdout' });
  }
}

export async function render(model: ReportModel, format: ReportFormat, color: boolean): Promise<string> {
  if (format === 'html') return (await import('../render/report/html.js')).renderHtml(model, { generatedAt: new Date() });
  if (format === 'md') return (await import('../render/report/md.js')).renderMarkdown(model);
  return (await import('../render/report/text.js')).renderText(model, painter(color));
}

export async function reportAction(opts: ReportOptions, runArg?: string): Promise<number> {
  const format = (opts.format ?? 'html') as ReportFormat;
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${REPORT_FORMATS.join(', ')} (got "${opts.format}")`);
  const { file, runsDir } = resolveRunLog(runArg, opts);
  let model: ReportModel;
  try {
    model = readRunLog(file);
  } catch (err) {
    if (err instanceof UnreadableLog) throw new UsageError(err.message, { next: 'pass the .ndjson run log of a quantum-roll run (<state dir>/runs/<run id>.ndjson)' });
    throw err;
  }
  // html goes to a file (default: beside the log); md and text to stdout unless --output.
  let output = opts.output ? resolve(opts.output) : undefined;
  if (!output && (format === 'html' || opts.json)) {
    if (format !== 'html') throw new UsageError(`--json prints one JSON document: give --output for --format ${format}`);
    output = join(runsDir ?? dirname(file), `${basename(file).replace(/\.ndjson$/, '')}.html`);
  }
  const text = await render(model, format, !output && colorFor(process.stdout));
  if (output) writeReport(output, text);
  else process.stdout.write(text);
  const unread = model.unreadable.length;
  const unknown = Object.values(model.unknown).reduce((s, n) => s + n, 0);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ ok: true, exit_code: ExitCode.ok, run_id: model.run_id, status: model.status, run_exit_code: model.exit_code, format, log_file: file, output: output ?? null, bytes: Buffer.byteLength(text), lines_unreadable: unread, unknown_events: model.unknown })}\n`,
    );
  } else if (output) {
    process.stdout.write(`${output}\n`);
    if (unread || unknown) process.stderr.write(`quantum-roll: the report says what it could not read: ${[unread ? `${unread} line(s) unreadable` : '', unknown ? `${unknown} event(s) of a newer version` : ''].filter(Boolean).join(', ')}\n`);
  }
  return ExitCode.ok;
}
