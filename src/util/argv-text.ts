/** argv as text: `{placeholder}` substitution, display as the operator would type it, bounded tails of output. */
import { QrError, UsageError } from './errors.js';

/** What an id-like value (node id, LB member) must look like to be substituted. */
export const PLAIN_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const PLACEHOLDER = /\{([a-z_][a-z0-9_]*)\}/g;

/** The `{name}` placeholders of `arg` that are not in `known`, in order, each once (the config loader's check). */
export function unknownPlaceholders(arg: string, known: readonly string[]): string[] {
  const out: string[] = [];
  for (const m of arg.matchAll(PLACEHOLDER)) if (!known.includes(m[1]!) && !out.includes(m[1]!)) out.push(m[1]!);
  return out;
}

export interface SubstituteOptions {
  /** Placeholders whose value must match {@link PLAIN_VALUE} (e.g. `node`, `member`). Others may be any string without NUL. */
  plain?: readonly string[];
  /** For messages: which config key the argv comes from (`lb.drain`, `restart.command`). */
  label?: string;
}

/**
 * Replaces `{name}` in each argument with `values[name]`. An unknown placeholder is a
 * config error (a typo would otherwise run with the literal text); a value that does
 * not fit its pattern is refused before anything runs.
 */
export function substitute(argv: readonly string[], values: Readonly<Record<string, string>>, opts: SubstituteOptions = {}): string[] {
  const label = opts.label ?? 'command';
  if (argv.length === 0 || argv[0] === '') throw new UsageError(`${label}: the argv is empty`);
  const plain = new Set(opts.plain ?? []);
  for (const name of plain) {
    const v = values[name];
    if (v !== undefined && !PLAIN_VALUE.test(v)) {
      throw new QrError(
        `${label}: refusing to substitute {${name}} = ${JSON.stringify(v)}: it must match ${PLAIN_VALUE.source} (nothing was run)`,
      );
    }
  }
  for (const [name, v] of Object.entries(values)) {
    if (v.includes('\0')) throw new QrError(`${label}: refusing to substitute {${name}}: the value contains a NUL byte (nothing was run)`);
  }
  return argv.map((arg) =>
    arg.replace(PLACEHOLDER, (whole, name: string) => {
      const v = Object.hasOwn(values, name) ? values[name] : undefined;
      if (v === undefined) {
        const known = Object.keys(values).map((k) => `{${k}}`).join(' ');
        throw new UsageError(`${label}: unknown placeholder ${whole} in argument ${JSON.stringify(arg)} (known: ${known})`);
      }
      return v;
    }),
  );
}

/** argv as the operator would type it (quoted where needed), for messages. */
export function displayArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+,{}-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/** The last `lines` non-empty lines of `text`, each line and the whole bounded. */
export function tail(text: string, lines = 5, maxChars = 800): string {
  const kept = text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .join('\n');
  return kept.length > maxChars ? `…${kept.slice(-maxChars)}` : kept;
}

/** `s` bounded to `max` characters, for logs. */
export function clip(s: string, max = 4_000): string {
  return s.length > max ? `${s.slice(0, max)}…(${s.length - max} more chars)` : s;
}
