/** The problem report of a config file: every mistake with its key path and line, as one ConfigError. */
import { ConfigError } from '../util/errors.js';
import type { ConfigLocation } from './locate.js';

/** One mistake of a config file: its key path (e.g. `lb.url`, '' for the file itself), line (1-based) when known, and what is wrong. */
export interface ConfigProblem {
  path: string;
  line?: number;
  message: string;
}

/**
 * Every problem of one config file, reported at once (issue 15). It is a ConfigError
 * (exit 2) whose keyPath is the first problem's; `problems` lists them all, in file order.
 */
export class ConfigProblems extends ConfigError {
  constructor(
    readonly problems: ConfigProblem[],
    file: string,
    readonly location?: ConfigLocation,
  ) {
    const first = problems[0] ?? { path: '', message: 'invalid config' };
    super(first.path, first.message, file);
    this.name = 'ConfigError';
    this.message = formatProblems(problems, file, location);
    this.details.evidence = {
      config_file: file,
      ...(location ? { config_source: location.source } : {}),
      problems: problems.map((p) => ({ path: p.path, ...(p.line !== undefined ? { line: p.line } : {}), message: p.message })),
    };
  }
}

const where = (p: ConfigProblem) => `${p.line !== undefined ? `line ${p.line}: ` : ''}${p.path ? `${p.path}: ` : ''}${p.message}`;

function formatProblems(problems: ConfigProblem[], file: string, location?: ConfigLocation): string {
  const from = location?.found && location.source !== '--config' ? ` (found via ${location.source})` : '';
  if (problems.length === 1) {
    const p = problems[0]!;
    return `${file}${p.line !== undefined ? `:${p.line}` : ''}${from}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
  }
  return `${file}${from}: ${problems.length} problems\n${problems.map((p) => `  ${where(p)}`).join('\n')}`;
}

/** Problems without duplicates, in file order (by line, then as found). */
export function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const k = `${p.path}\0${p.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .map((p, i) => [p, i] as const)
    .sort(([a, i], [b, j]) => (a.line ?? Infinity) - (b.line ?? Infinity) || i - j)
    .map(([p]) => p);
}
