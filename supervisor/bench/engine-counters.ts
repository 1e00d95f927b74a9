/**
 * What the benchmarks read off the engine and /proc: a container's CPU and memory, the engine's
 * own CPU, a process's resident memory.
 */
import { readdir, readFile } from 'node:fs/promises';
import type Docker from 'dockerode';

export interface ContainerCounters {
  /** Cumulative CPU time of the container since its start, nanoseconds. */
  cpuNs: number;
  /** Memory use less inactive page cache, bytes (what `docker stats` shows). */
  memoryBytes: number;
}

/** The engine's counters for one container (one-shot: no second sample, answers at once). */
export async function containerCounters(docker: Docker, id: string): Promise<ContainerCounters> {
  const stats = (await docker.getContainer(id).stats({ stream: false, 'one-shot': true } as never)) as unknown as {
    cpu_stats: { cpu_usage: { total_usage: number } };
    memory_stats: { usage?: number; stats?: Record<string, number> };
  };
  const memory = stats.memory_stats;
  const inactive = memory.stats?.total_inactive_file ?? memory.stats?.inactive_file ?? 0;
  return { cpuNs: stats.cpu_stats.cpu_usage.total_usage, memoryBytes: (memory.usage ?? 0) - inactive };
}

const ENGINE = /^(dockerd|containerd|containerd-shim.*|runc)$/;
const TICK_NS = 1e9 / 100; // USER_HZ: /proc reports CPU times in 1/100 s on Linux

/** CPU time of the engine's processes (own and reaped children), nanoseconds, by pid. */
export async function engineCpu(): Promise<Map<number, number>> {
  const times = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    if (open < 0 || !ENGINE.test(stat.slice(open + 1, close))) continue;
    // Fields after the command: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    const fields = stat.slice(close + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    times.set(Number(entry), ticks * TICK_NS);
  }
  return times;
}

/** Engine CPU between two readings of engineCpu(), nanoseconds. */
export function engineDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ns] of after) total += ns - (before.get(pid) ?? 0);
  return total;
}

/** A process's resident memory (VmRSS), bytes. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kib) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kib) * 1024;
}

/** A process's CPU time so far (user and system), nanoseconds. */
export async function processCpuNs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * TICK_NS;
}
