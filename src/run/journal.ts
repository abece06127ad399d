/**
 * The run journal: where a run stands, written atomically (temp file, fsync,
 * rename) at every step boundary, so `resume` can finish a run after a crash.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as z from 'zod';
import type { Config } from '../config/schema.js';
import { StepError, UsageError } from '../util/errors.js';
import { nodeRecord, type NodeRecord } from '../steps/record.js';
import { type WriteIo, defaultWriteIo, writeAll } from '../util/write-all.js';

export { emptyNodeRecord, type StepName, type NodeRecord } from '../steps/record.js';

export const journalSchema = z.object({
  version: z.literal(1),
  run_id: z.string(),
  command: z.string(),
  status: z.enum(['running', 'done', 'failed', 'interrupted', 'refused']),
  started_at: z.string(),
  updated_at: z.string(),
  config_file: z.string(),
  config_digest: z.string(),
  config_digests: z.record(z.string(), z.string()).optional(),
  options: z.record(z.string(), z.unknown()),
  initiator: z.string(),
  lease: z.object({ name: z.string(), holder: z.string(), token: z.string() }).nullable(),
  waves: z.array(z.array(z.string())),
  nodes: z.record(z.string(), nodeRecord),
  error: z.string().nullable(),
});
export type JournalData = z.infer<typeof journalSchema>;

export const JOURNAL_FILE = 'journal.json';

export function newRunId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `${t}-${randomBytes(3).toString('hex')}`;
}

function relevantParts(config: Config): Record<string, unknown> {
  return {
    'control_plane.url': config.control_plane.url,
    nodes: config.nodes,
    lb: { ...config.lb, token_env: undefined, token_file: undefined },
    'restart.command': config.restart.command,
  };
}

const hash = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

/** The parts of the config whose change makes a journalled run unsafe to resume as is. */
export function configDigest(config: Config): string {
  const p = relevantParts(config);
  return hash({ control_plane: p['control_plane.url'], nodes: p.nodes, lb: p.lb, restart: p['restart.command'] });
}

/** One digest per relevant key, so that a refused resume can say which changed. */
export function configDigests(config: Config): Record<string, string> {
  return Object.fromEntries(Object.entries(relevantParts(config)).map(([k, v]) => [k, hash(v)]));
}


const OS_REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'I/O error',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a path component is not a directory',
  SHORT_WRITE: 'the file system took none of the bytes left to write',
};

/**
 * A file that could not be written: names the path and the OS reason (`code` is ENOSPC, EROFS, EACCES…).
 * `stage` `dir_sync`: the new content was renamed into place, but its directory could not be
 * synced, so the rename may not survive a crash (the file may be the new one or the old one).
 */
export class WriteError extends Error {
  constructor(
    readonly file: string,
    readonly code: string,
    cause: unknown,
    readonly stage: 'write' | 'dir_sync' = 'write',
  ) {
    const reason = `${code}${OS_REASONS[code] ? ` (${OS_REASONS[code]})` : ''}`;
    super(stage === 'dir_sync' ? `cannot make ${file} durable: the fsync of its directory ${dirname(file)} failed: ${reason}` : `cannot write ${file}: ${reason}`, { cause });
  }
}

/**
 * Writes `data` to `file` so that a reader sees the old or the new content, never half;
 * `mode` whatever the umask. Every byte is written (a short write is continued, one that
 * takes nothing is an error: util/write-all.ts), the file is synced, renamed over the old
 * one, and its directory synced so the rename survives a crash; a failure of any of
 * these throws a WriteError naming the file (`stage` says whether the rename happened).
 * `io` is the file system seam the tests inject short writes and failures through.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600, io: WriteIo = defaultWriteIo): void {
  const tmp = `${file}.${process.pid}.tmp`;
  let created = false;
  try {
    mkdirSync(dirname(file), { recursive: true });
    const fd = openSync(tmp, 'w', mode);
    created = true;
    try {
      fchmodSync(fd, mode);
      writeAll(fd, data, io);
      io.fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    // A half-written temp file must not eat what little space is left.
    if (created) rmSync(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw code ? new WriteError(file, code, err) : err;
  }
  let dfd: number | undefined;
  try {
    dfd = openSync(dirname(file), 'r');
    io.fsyncSync(dfd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new WriteError(file, code, err, 'dir_sync');
  } finally {
    if (dfd !== undefined) closeSync(dfd);
  }
}

export class Journal {
  /**
   * A new run's journal stays in memory until its first write that matters (just
   * before the first change): a run refused by its prechecks or by the lease leaves
   * the previous journal, and so `resume`, untouched.
   */
  private persisted: boolean;
  /** Called once, just before the first write of a deferred journal (archives the previous one). */
  beforeFirstWrite: (() => void) | undefined;

  constructor(
    readonly file: string,
    public data: JournalData,
    opts: { deferred?: boolean } = {},
  ) {
    this.persisted = opts.deferred !== true;
  }

  get isPersisted(): boolean {
    return this.persisted;
  }

  /** Set by the first write that failed: from then on the run changes nothing more (every update throws it). */
  failure: StepError | undefined;

  /**
   * Proves the journal can be written where it will be, before the run's first change
   * (and before the lease): a temp file beside it is written, synced and removed.
   */
  probe(): void {
    const tmp = `${this.file}.probe-${process.pid}`;
    try {
      writeFileAtomic(tmp, `${JSON.stringify(this.data)}\n`);
    } catch (err) {
      throw this.failed(err, true);
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  private failed(err: unknown, beforeAnyChange: boolean): StepError {
    const why = err instanceof WriteError ? err.message : `cannot write ${this.file}: ${(err as Error).message}`;
    const failure = new StepError(
      beforeAnyChange
        ? `the journal cannot be created: ${why}. Nothing was changed (no lease, no drain, no transfer).`
        : `the journal could not be written: ${why}. The run stopped at once: nothing further was changed after the failed write; ${
            err instanceof WriteError && err.stage === 'dir_sync' ? 'the journal on disk is this write or, after a crash, the one before it' : 'the journal on disk is the one before it'
          }.`,
      {
        endpoint: this.file,
        next: `free space on (or make writable) ${dirname(this.file)}, or pass another --state-dir, then ${beforeAnyChange ? 'run the same command again' : 'quantum-roll resume'}`,
        evidence: { journal: this.file, code: err instanceof WriteError ? err.code : null },
      },
      { cause: err },
    );
    if (!beforeAnyChange) this.failure = failure;
    return failure;
  }

  static path(stateDir: string): string {
    return join(stateDir, JOURNAL_FILE);
  }

  static read(stateDir: string): Journal | undefined {
    const file = Journal.path(stateDir);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new UsageError(`the journal ${file} is not valid JSON; inspect it, or remove it to start afresh`);
    }
    // Read once per run: no compiled fast path (it costs more to build than one parse saves).
    const parsed = journalSchema.safeParse(raw, { jitless: true });
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new UsageError(`the journal ${file} is invalid at "${i.path.join('.')}": ${i.message}`);
    }
    return new Journal(file, parsed.data);
  }

  node(id: string): NodeRecord {
    const n = this.data.nodes[id];
    if (!n) throw new Error(`journal has no node ${id}`);
    return n;
  }

  /** Applies a change and persists it atomically (in memory only while deferred). */
  update(change: (d: JournalData) => void): void {
    // A journal that failed once stays failed: no step starts, no change is recorded as made.
    if (this.failure) throw this.failure;
    change(this.data);
    this.data.updated_at = new Date().toISOString();
    if (!this.persisted) return;
    try {
      writeFileAtomic(this.file, `${JSON.stringify(this.data, null, 2)}\n`);
    } catch (err) {
      throw this.failed(err, false);
    }
  }

  /** Ends the deferral: from now on every update is on disk. */
  persist(): void {
    if (this.persisted) return;
    this.beforeFirstWrite?.();
    this.persisted = true;
    this.update(() => {});
  }

  get unfinished(): boolean {
    return this.data.status === 'running' || this.data.status === 'interrupted' || this.data.status === 'failed';
  }
}
