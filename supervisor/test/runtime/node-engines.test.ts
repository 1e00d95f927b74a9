import t from 'tap';
import { parseNodeEngines } from '../../src/runtime/node-engines.js';

t.test('SWARM_NODE_ENGINES: node id = unix or tcp address, comma-separated', async (t) => {
  t.same(parseNodeEngines(''), []);
  t.same(parseNodeEngines(' abc123=unix:///run/b/docker.sock , def456=tcp://192.0.2.2:2376 '), [
    { nodeId: 'abc123', url: 'unix:///run/b/docker.sock' },
    { nodeId: 'def456', url: 'tcp://192.0.2.2:2376' },
  ]);
  for (const bad of ['abc', 'abc=http://x', '=unix:///x', 'a b=unix:///x', 'a=unix:///x,a=unix:///y']) {
    t.throws(() => parseNodeEngines(bad), RangeError, bad);
  }
});
