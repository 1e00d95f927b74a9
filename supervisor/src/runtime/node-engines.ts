import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';

/** One entry of SWARM_NODE_ENGINES. */
export interface NodeEngineAddress {
  nodeId: string;
  /** `unix:///path` or `tcp://host:port`. */
  url: string;
}

/** Parses SWARM_NODE_ENGINES (`NODE_ID=unix:///path,NODE_ID=tcp://host:port`); throws RangeError on a bad entry. */
export function parseNodeEngines(text: string): NodeEngineAddress[] {
  const entries: NodeEngineAddress[] = [];
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const nodeId = part.slice(0, eq).trim();
    const url = part.slice(eq + 1).trim();
    if (eq === -1 || !/^[A-Za-z0-9]+$/.test(nodeId) || !/^(unix|tcp):\/\/\S+$/.test(url)) {
      throw new RangeError(`invalid entry in SWARM_NODE_ENGINES: ${part.trim()}`);
    }
    if (entries.some((entry) => entry.nodeId === nodeId)) {
      throw new RangeError(`node ${nodeId} is listed twice in SWARM_NODE_ENGINES`);
    }
    entries.push({ nodeId, url });
  }
  return entries;
}

/**
 * A dockerode client for one node's engine. A tcp:// engine is only ever spoken to over TLS with
 * a client certificate (an engine's API is root on its node): `tlsDir` must hold ca.pem,
 * cert.pem and key.pem.
 */
export function nodeEngineClient(address: NodeEngineAddress, tlsDir: string): Docker {
  const url = new URL(address.url);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  if (!tlsDir) throw new RangeError(`SWARM_NODE_TLS_DIR is needed for the tcp:// engine of node ${address.nodeId}`);
  return new Docker({
    protocol: 'https',
    host: url.hostname,
    port: Number(url.port || 2376),
    ca: readFileSync(join(tlsDir, 'ca.pem')),
    cert: readFileSync(join(tlsDir, 'cert.pem')),
    key: readFileSync(join(tlsDir, 'key.pem')),
  });
}
