/**
 * The closing line of .ci/run, "N passed, N failed", made true: it says "0 failed" only
 * when the exit status is 0. Counted as failures beside vitest's failed tests: a test file
 * that failed to load, each check of .ci/run that failed, each test skipped outside the
 * allow-list, and a test command that failed with no failed test in its report (a build
 * failure, an unhandled error, no report at all).
 *
 *   node .ci/closing-line.mjs <vitest json report> <extra passed> <extra failed> <test command status>
 *   (env SKIP_ALLOWED_LIST: the allowed skips, one "<file> > <full test name>" per line)
 *
 * Prints the FAIL lines and the closing line; exits 0 when nothing failed, 1 otherwise.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

function main() {
  const [file, extraPassed = '0', extraFailed = '0', status = '0'] = process.argv.slice(2);
  let r;
  try {
    r = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    r = undefined;
  }
  if (r === undefined) console.log(`FAIL: no vitest report in ${file}: the tests did not run`);
  const files = r?.testResults ?? [];
  const passed = (r?.numPassedTests ?? 0) + Number(extraPassed);
  // A test file that fails to load has no failed tests of its own: count it as one failure.
  const brokenFiles = files.filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'));
  for (const f of brokenFiles) console.log(`FAIL: ${relative(process.cwd(), f.name)} did not run: ${String(f.message ?? '').split('\n')[0]}`);
  let failed = (r?.numFailedTests ?? 0) + brokenFiles.length + Number(extraFailed) + (r === undefined ? 1 : 0);
  const allowed = new Set((process.env.SKIP_ALLOWED_LIST ?? '').split('\n').filter(Boolean));
  const skipped = files.flatMap((f) =>
    (f.assertionResults ?? []).filter((a) => a.status !== 'passed' && a.status !== 'failed').map((a) => `${relative(process.cwd(), f.name)} > ${a.fullName}`),
  );
  const unlisted = skipped.filter((s) => !allowed.has(s));
  for (const s of unlisted) console.log(`FAIL: skipped, and not on SKIP_ALLOWED in .ci/run: ${s}`);
  failed += unlisted.length;
  if (Number(status) !== 0 && failed === 0) {
    console.log(`FAIL: the test command exited ${status} with no failed test in its report (a build failure, an unhandled error, or no report)`);
    failed = 1;
  }
  const allowedSkips = skipped.length - unlisted.length;
  console.log(`${passed} passed, ${failed} failed${allowedSkips ? `, ${allowedSkips} skipped (allowed)` : ''}`);
  return failed > 0 ? 1 : 0;
}

let code;
try {
  code = main();
} catch (err) {
  // Even a counter that breaks ends with a true closing line.
  console.log(`FAIL: could not count the results: ${err?.message ?? err}`);
  console.log('0 passed, 1 failed');
  code = 1;
}
process.exit(code);
