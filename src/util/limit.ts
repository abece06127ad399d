/**
 * Maps `items` through `fn` with at most `limit` calls in flight; results keep the
 * order of `items`. Rejects with the first failure of `fn`.
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * Runs `jobs` with at most `limit` in flight and waits for all of them. Never rejects:
 * each job handles (or records) its own failure.
 */
export async function settleLimited(jobs: ReadonlyArray<() => Promise<unknown>>, limit: number): Promise<void> {
  await mapLimited(jobs, limit, (job) => job().catch(() => undefined));
}
