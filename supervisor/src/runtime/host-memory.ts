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
    const available = memAvailable(readFileSync('/proc/meminfo', 'utf8'));
    if (available !== undefined) return available;
  } catch {
    // Not Linux: fall through.
  }
  return freemem();
}

/**
 * `MemAvailable` of a /proc/meminfo text, in bytes; undefined when it has none (a kernel before
 * 3.14, or not that file at all). The Swarm runtime reads each node's through its anchor.
 */
export function memAvailable(meminfo: string): number | undefined {
  const match = /^MemAvailable:\s+(\d+) kB\s*$/m.exec(meminfo);
  return match?.[1] ? Number(match[1]) * 1024 : undefined;
}
