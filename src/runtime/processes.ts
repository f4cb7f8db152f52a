import { readFileSync } from 'node:fs';

/**
 * The start time of a process (clock ticks since boot, /proc/PID/stat field 22): with its PID,
 * an identity that survives PID reuse. Undefined when there is no such process.
 */
export function processStartTime(pid: number): number | undefined {
  return readStat(pid)?.startTime;
}

/** Whether the process that had this PID and start time still runs (zombies count as gone). */
export function isSameProcessAlive(pid: number, startTime: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === startTime;
}

function readStat(pid: number): { state: string; startTime: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, startTime: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

/** Whether PID belongs to container `id` (PIDs are reused; cgroup membership is not). */
export function ownsProcess(id: string, pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`/${id}`);
  } catch {
    return false;
  }
}
