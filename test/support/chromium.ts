/**
 * Headless Chromium (Debian's `chromium`, installed by .ci/run) as the report's browser:
 * a screenshot with the browser's console written to stderr (every console message and
 * every failed load is a `CONSOLE` line there), and the DOM as Chromium parsed it.
 * Each run gets its own profile dir, so parallel test files never share one.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));

function baseArgs(profile: string): string[] {
  return [
    '--headless',
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-extensions',
    '--disable-background-networking',
    '--disable-dev-shm-usage',
    // The page must need nothing from the network: any host it asked for would fail.
    '--host-resolver-rules=MAP * ~NOTFOUND',
    `--user-data-dir=${profile}`,
  ];
}

export interface Rendered {
  /** the CONSOLE lines Chromium logged (console.* calls, failed loads, script errors) */
  console: string[];
  screenshotBytes: number;
}

function need(): string {
  if (!CHROMIUM) throw new Error('chromium is not installed (apt-get install -y chromium; .ci/run installs it)');
  return CHROMIUM;
}

/** Opens `file` in headless Chromium, takes a screenshot to `png`, and returns its console. */
export async function screenshot(file: string, png: string, size = '1300,1600'): Promise<Rendered> {
  const bin = need();
  const profile = await mkdtemp(join(tmpdir(), 'qr-chromium-'));
  try {
    const r = await execa(bin, [...baseArgs(profile), '--hide-scrollbars', '--enable-logging=stderr', '--v=0', `--window-size=${size}`, `--screenshot=${png}`, pathToFileURL(file).href], {
      reject: false,
      timeout: 120_000,
      stdin: 'ignore',
    });
    if (r.exitCode !== 0) throw new Error(`chromium exited ${r.exitCode}: ${String(r.stderr).slice(-2000)}`);
    const { statSync } = await import('node:fs');
    const bytes = existsSync(png) ? statSync(png).size : 0;
    return { console: String(r.stderr).split('\n').filter((l) => /:CONSOLE[:(]/.test(l)), screenshotBytes: bytes };
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** The DOM of `file` as Chromium parsed it (serialised back), for counting elements. */
export async function dumpDom(file: string): Promise<string> {
  const bin = need();
  const profile = await mkdtemp(join(tmpdir(), 'qr-chromium-'));
  try {
    const r = await execa(bin, [...baseArgs(profile), '--dump-dom', pathToFileURL(file).href], { reject: false, timeout: 120_000, stdin: 'ignore', maxBuffer: 512 * 1024 * 1024 });
    if (r.exitCode !== 0) throw new Error(`chromium --dump-dom exited ${r.exitCode}: ${String(r.stderr).slice(-2000)}`);
    return String(r.stdout);
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}
