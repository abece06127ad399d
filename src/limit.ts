/**
 * Runs `jobs` with at most `limit` in flight and waits for all of them. Never rejects:
 * each job handles (or records) its own failure.
 */
export async function settleLimited(jobs: ReadonlyArray<() => Promise<unknown>>, limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      await job().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, jobs.length)) }, worker));
}
