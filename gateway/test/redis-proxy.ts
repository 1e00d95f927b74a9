import { connect, createServer, type Socket } from 'node:net';
import type { Teardown } from '@tenancy/test-support';

/**
 * A TCP proxy on 127.0.0.1 in front of a Redis server that reads the commands clients send and
 * can make chosen ones misbehave, so a test can fail one kind of command while Redis stays up.
 * Both tricks keep replies in order, which a Redis client relies on:
 * - `refuse(name)` renames the command, so Redis itself answers it with an unknown-command error;
 * - `hold(name)` stops forwarding at that command (and everything after it on its connection)
 *   until `release()`, as a Redis that is slow to answer would.
 */
export interface RedisProxy {
  /** `redis://` URL of the proxy. */
  url: string;
  /** Client connections accepted so far: a reconnecting client shows up as one more. */
  readonly connections: number;
  refuse(name: string): void;
  hold(name: string): void;
  /** Stops refusing and holding, and forwards whatever was held. */
  release(): void;
  /** How many commands of this name were refused so far. */
  refused(name: string): number;
  /** How many commands of this name were held so far. */
  held(name: string): number;
}

const REFUSED_NAME = 'TENANCY-TEST-REFUSED';

export async function startRedisProxy(t: Teardown, redisPort: number): Promise<RedisProxy> {
  const refusing = new Set<string>();
  const holding = new Set<string>();
  const refusedCounts = new Map<string, number>();
  const heldCounts = new Map<string, number>();
  const sockets = new Set<Socket>();
  /** Per open connection: stops holding and forwards what it held. */
  const resumers = new Set<() => void>();
  let connections = 0;

  const server = createServer((client) => {
    connections++;
    const upstream = connect(redisPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
        resumers.delete(resume);
      });
    }
    upstream.pipe(client);

    let pending: Buffer = Buffer.alloc(0);
    let holdingHere = false;
    function flush(): void {
      for (;;) {
        const command = nextCommand(pending);
        if (command === undefined) return;
        if (!holdingHere && holding.has(command.name)) {
          holdingHere = true;
          heldCounts.set(command.name, (heldCounts.get(command.name) ?? 0) + 1);
        }
        if (holdingHere) return;
        let bytes: Buffer = pending.subarray(0, command.length);
        pending = pending.subarray(command.length);
        if (refusing.has(command.name)) {
          refusedCounts.set(command.name, (refusedCounts.get(command.name) ?? 0) + 1);
          bytes = renamed(bytes, command);
        }
        upstream.write(bytes);
      }
    }
    function resume(): void {
      holdingHere = false;
      flush();
    }
    resumers.add(resume);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      flush();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the proxy has no address');

  return {
    url: `redis://127.0.0.1:${address.port}`,
    get connections() {
      return connections;
    },
    refuse: (name) => refusing.add(name.toLowerCase()),
    hold: (name) => holding.add(name.toLowerCase()),
    release() {
      refusing.clear();
      holding.clear();
      for (const resume of [...resumers]) resume();
    },
    refused: (name) => refusedCounts.get(name.toLowerCase()) ?? 0,
    held: (name) => heldCounts.get(name.toLowerCase()) ?? 0,
  };
}

interface Command {
  /** Bytes of the whole command at the start of the buffer. */
  length: number;
  /** The command name, lower case. */
  name: string;
  /** Where the first argument after the name starts. */
  argsOffset: number;
  /** Number of elements, the name included. */
  count: number;
}

/** The first complete command in `buffer` (a RESP array of bulk strings), or undefined. */
function nextCommand(buffer: Buffer): Command | undefined {
  let offset = 0;
  const line = (): string | undefined => {
    const end = buffer.indexOf('\r\n', offset);
    if (end < 0) return undefined;
    const text = buffer.toString('latin1', offset, end);
    offset = end + 2;
    return text;
  };
  const header = line();
  if (header === undefined) return undefined;
  // Clients such as ioredis always send arrays; anything else means the parser is out of step.
  if (!header.startsWith('*')) throw new Error(`unexpected Redis request: ${JSON.stringify(header)}`);
  const count = Number(header.slice(1));
  let name = '';
  let argsOffset = 0;
  for (let index = 0; index < count; index++) {
    const size = line();
    if (size === undefined) return undefined;
    const length = Number(size.slice(1));
    if (buffer.length < offset + length + 2) return undefined;
    if (index === 0) name = buffer.toString('latin1', offset, offset + length).toLowerCase();
    offset += length + 2;
    if (index === 0) argsOffset = offset;
  }
  return { length: offset, name, argsOffset, count };
}

/** The same command under a name Redis does not know. */
function renamed(bytes: Buffer, command: Command): Buffer {
  const head = `*${command.count}\r\n$${REFUSED_NAME.length}\r\n${REFUSED_NAME}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes.subarray(command.argsOffset)]);
}
