import t from 'tap';
import { chooseNode } from '../../src/runtime/swarm-spec.js';

const GiB = 1024 ** 3;

t.test('a first wake goes to the available node with most memory not held by awake tenants', async (t) => {
  const nodes = [
    { id: 'a', available: true, memoryBytes: 8 * GiB },
    { id: 'b', available: true, memoryBytes: 8 * GiB },
    { id: 'c', available: false, memoryBytes: 64 * GiB },
  ];
  t.equal(chooseNode(nodes, []), 'a', 'a tie goes by id; a down node is never chosen');
  t.equal(chooseNode(nodes, [{ nodeId: 'a', reservedBytes: GiB }]), 'b', 'awake tenants hold memory');
  t.equal(
    chooseNode(nodes, [
      { nodeId: 'a', reservedBytes: 0 },
      { nodeId: 'a', reservedBytes: 0 },
    ]),
    'b',
    'on equal free memory, the node with fewer tenants pinned',
  );
  t.equal(chooseNode([{ id: 'a', available: false, memoryBytes: GiB }], []), undefined, 'none available');
});
