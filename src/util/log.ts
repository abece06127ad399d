import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Secrets never reach a log line, whatever object carries them. */
const REDACT = [
  'token',
  '*.token',
  '*.*.token',
  'authorization',
  '*.authorization',
  '*.*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'lease.token',
  'password',
  '*.password',
];

/** Structured ndjson events (pino) on the given stream, stderr by default. */
export function createLogger(level: LogLevel = 'info', dest?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest ?? pino.destination({ fd: 2, sync: true }),
  );
}

const warned = new Set<string>();
let warnLog: Logger | undefined;

/**
 * A security warning (TLS verification disabled, a token file others can read): written
 * to stderr on every run that meets it, whatever `--log-level` says, once per `key` per
 * process. A terminal gets a plain line; otherwise an ndjson `warn` event like every log.
 */
export function securityWarning(key: string, message: string, fields: Record<string, unknown> = {}): void {
  if (warned.has(key)) return;
  warned.add(key);
  if (process.stderr.isTTY) {
    process.stderr.write(`quantum-roll: \x1b[1;33mWARNING\x1b[0m: ${message}\n`);
    return;
  }
  warnLog ??= createLogger('warn');
  warnLog.warn({ event: 'security_warning', ...fields }, message);
}
