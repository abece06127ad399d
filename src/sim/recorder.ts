// Append-only NDJSON recording of calls and events. Node processes and the supervisor
// append to the same files (one write(2) per line, O_APPEND), readers sort by `t`.
import fs from 'node:fs';
import path from 'node:path';
import type { Ctx, Reply } from './http-kit.js';
import type { RecordedCall, SimEvent } from './types.js';

export const CALLS_FILE = 'calls.ndjson';
export const EVENTS_FILE = 'events.ndjson';

export class NdjsonFile {
  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }

  append(obj: unknown): void {
    try {
      fs.appendFileSync(this.file, JSON.stringify(obj) + '\n');
    } catch {
      // recording must never break the simulated system
    }
  }

  /** Several lines in one write(2). */
  appendMany(objs: readonly unknown[]): void {
    if (objs.length === 0) return;
    try {
      fs.appendFileSync(this.file, objs.map((o) => JSON.stringify(o)).join('\n') + '\n');
    } catch {
      // recording must never break the simulated system
    }
  }

  readAll<T extends { t: number }>(): T[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const out: T[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        // a torn line (writer killed mid-write) is skipped
      }
    }
    return out.sort((a, b) => a.t - b.t);
  }
}

export class CallRecorder {
  private readonly out: NdjsonFile;
  constructor(stateDir: string) {
    this.out = new NdjsonFile(path.join(stateDir, CALLS_FILE));
  }

  record(system: RecordedCall['system'], node: string | undefined, ctx: Ctx, reply: Reply, tEnd: number): void {
    const call: RecordedCall = {
      t: ctx.t,
      system,
      ...(node !== undefined ? { node } : {}),
      method: ctx.method,
      path: ctx.url,
      body: ctx.body === undefined ? (ctx.bodyInvalid ? ctx.bodyText : null) : ctx.body,
      status: reply.status,
      t_end: tEnd,
    };
    this.out.append(call);
  }

  all(): RecordedCall[] {
    return this.out.readAll<RecordedCall>();
  }
}

export class EventLog {
  private readonly out: NdjsonFile;
  constructor(stateDir: string) {
    this.out = new NdjsonFile(path.join(stateDir, EVENTS_FILE));
  }

  /** Lines that carry their own `t` (e.g. a broker's CONNECT traces), in one write. */
  appendLines(lines: readonly SimEvent[]): void {
    this.out.appendMany(lines);
  }

  emit(event: string, fields: Record<string, unknown> = {}): void {
    const e: SimEvent = { t: performance.timeOrigin + performance.now(), system: 'sim', event, ...fields };
    this.out.append(e);
  }

  all(): SimEvent[] {
    return this.out.readAll<SimEvent>();
  }
}
