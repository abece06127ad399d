/**
 * Issue 20, item 10: package.json says only what is true. Every runtime dependency is
 * imported by the shipped code (src/, which becomes dist/); a package only the tests,
 * benchmarks or scripts use is a devDependency. Every `files` entry exists after a build.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  files: string[];
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|mts|js|mjs)$/.test(name) ? [p] : [];
  });
}

const shipped = sources(join(root, 'src')).map((f) => readFileSync(f, 'utf8'));
const imports = (text: string, name: string) => new RegExp(`(from|import\\(|require\\()\\s*['"]${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(/[^'"]*)?['"]`).test(text);

describe('package.json', () => {
  it('every runtime dependency is imported by the shipped code (src/)', () => {
    const unused = Object.keys(pkg.dependencies).filter((name) => !shipped.some((t) => imports(t, name)));
    expect(unused, 'move these to devDependencies: nothing in src/ imports them').toEqual([]);
  });

  it('execa is a devDependency: only tests and benchmarks run child processes through it', () => {
    expect(pkg.dependencies.execa).toBeUndefined();
    expect(pkg.devDependencies.execa).toBeDefined();
    expect(shipped.some((t) => imports(t, 'execa'))).toBe(false);
  });

  it('every `files` entry exists (the build has run: tests run against dist/)', () => {
    const missing = pkg.files.filter((f) => !f.startsWith('!') && !existsSync(join(root, f)));
    expect(missing).toEqual([]);
  });
});
