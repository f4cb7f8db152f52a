/**
 * Runs the tasks with at most `limit` at a time, resolving to their results in task order.
 * After a failure no new task starts and `abort` is aborted, so that running ones can stop
 * early; the first error is thrown once every started task has settled (nothing is left
 * working in the background, half-written, when the caller reports the failure).
 */
export async function runLimited<T>(
  tasks: ReadonlyArray<(signal: AbortSignal) => Promise<T>>,
  limit: number,
): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  const abort = new AbortController();
  let failure: { error: unknown } | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length && failure === undefined) {
      const index = next++;
      try {
        results[index] = await tasks[index]!(abort.signal);
      } catch (error) {
        failure ??= { error };
        abort.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (failure) throw failure.error;
  return results;
}
