/**
 * Preload (`node --import bench/maxrss.mjs …`): on exit, writes this process's peak
 * resident set size (kB) and CPU time (µs) from `process.resourceUsage()` to
 * $QR_BENCH_RSS_FILE as JSON. The CLI ends with process.exit(), which still runs
 * 'exit' listeners.
 */
import { writeFileSync } from 'node:fs';
import process from 'node:process';

const file = process.env.QR_BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    try {
      const u = process.resourceUsage();
      writeFileSync(file, JSON.stringify({ maxRSS: u.maxRSS, user: u.userCPUTime, system: u.systemCPUTime }));
    } catch {
      // best effort: the bench reports the RSS as unknown
    }
  });
}
