import { createServer } from 'node:net';
import t from 'tap';
import { cidrContains, formatCidr, parseCidr, refuseConnectionsFrom } from '../src/cidr.js';

t.test('cidrContains: inside, outside, edges, IPv4-mapped IPv6, and non-addresses', async (t) => {
  const pool = parseCidr('10.201.0.0/16');
  const rows: [string | undefined, boolean][] = [
    ['10.201.0.0', true],
    ['10.201.7.9', true],
    ['10.201.255.255', true],
    ['::ffff:10.201.3.4', true],
    ['::FFFF:10.201.3.4', true],
    ['10.202.0.0', false],
    ['10.200.255.255', false],
    ['127.0.0.1', false],
    ['::1', false],
    ['10.201.0.256', false],
    ['', false],
    [undefined, false],
  ];
  for (const [address, inside] of rows) t.equal(cidrContains(pool, address), inside, String(address));
  t.equal(formatCidr(parseCidr('192.168.4.0/22')), '192.168.4.0/22');
  for (const bad of ['10.0.0.1/8', '10.0.0.0/33', '10.0.0/8', '10.0.0.0', '10.0.0.0/8/1', '300.0.0.0/8']) {
    t.throws(() => parseCidr(bad), RangeError, bad);
  }
});

t.test('refuseConnectionsFrom closes connections from the block before anything is read', async (t) => {
  const received: string[] = [];
  const refused: (string | undefined)[] = [];
  const listen = async (cidr: string) => {
    const server = createServer((socket) => socket.on('data', (d) => received.push(d.toString())));
    refuseConnectionsFrom(server, parseCidr(cidr), (address) => refused.push(address));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return (server.address() as import('node:net').AddressInfo).port;
  };
  const send = async (port: number) => {
    const { connect } = await import('node:net');
    return new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('hello'));
      socket.on('close', () => resolve('closed'));
      setTimeout(() => {
        socket.destroy();
        resolve('open');
      }, 300);
    });
  };
  t.equal(await send(await listen('127.0.0.0/8')), 'closed', 'loopback refused when loopback is the block');
  t.same(refused, ['127.0.0.1']);
  t.same(received, [], 'nothing was read from it');
  t.equal(await send(await listen('10.201.0.0/16')), 'open', 'other peers are served');
  t.same(received, ['hello']);
});
