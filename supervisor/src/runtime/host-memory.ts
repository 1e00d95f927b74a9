import { readFileSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import type { NodeMemory } from './types.js';

/** The node id of the one host the Docker runtime runs tenants on. */
export const LOCAL_NODE = 'local';

/**
 * This host as the Docker runtime's one node: its total memory and what it can still give
 * (see {@link availableMemory}). The supervisor runs beside the engine it drives.
 */
export function hostMemory(): NodeMemory {
  return { node: LOCAL_NODE, totalBytes: totalmem(), availableBytes: availableMemory() };
}

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
