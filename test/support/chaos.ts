/** Runs the chaos campaign (chaos/campaign.mjs) in a child process for the smoke tests. */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface CampaignRun {
  /** the campaign's exit code */
  code: number | null;
  /** what it printed (stdout and stderr) */
  output: string;
  /** its --out results document */
  doc: any;
  /** removes its temporary directory */
  cleanup(): Promise<void>;
}

/** `node chaos/campaign.mjs <args> --out <tmp>/results.json`, to its end. */
export async function runCampaign(args: string[]): Promise<CampaignRun> {
  const dir = await mkdtemp(join(tmpdir(), 'qr-chaos-smoke-'));
  const out = join(dir, 'results.json');
  let output = '';
  const code = await new Promise<number | null>((res, rej) => {
    const child = spawn(process.execPath, ['chaos/campaign.mjs', ...args, '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    child.on('error', rej);
    child.on('close', res);
  });
  const doc = JSON.parse(await readFile(out, 'utf8').catch(() => 'null'));
  return { code, output, doc, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
