import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';

/**
 * Memory the host can still give without swapping, in bytes: the kernel's own estimate
 * (`MemAvailable` in /proc/meminfo, which counts reclaimable caches), or free memory where that
 * file does not exist. Inside a container /proc/meminfo shows the host's figures, which is what
 * the supervisor needs: paused tenants hold host memory.
 */
export function availableMemory(): number {
  try {
    const match = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (match?.[1]) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: fall through.
  }
  return freemem();
}
