import t from 'tap';
import { chooseNode, unreservedMemory } from '../../src/runtime/swarm-spec.js';

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

t.test('a node’s unreserved memory is its memory less the limits of the tenants awake on it', async (t) => {
  const node = { id: 'a', available: true, memoryBytes: 8 * GiB };
  const cases: Array<[string, Array<{ nodeId: string; reservedBytes: number }>, number]> = [
    ['no tenants', [], 8 * GiB],
    [
      'awake tenants on the node',
      [
        { nodeId: 'a', reservedBytes: GiB },
        { nodeId: 'a', reservedBytes: 2 * GiB },
      ],
      5 * GiB,
    ],
    ['tenants on another node', [{ nodeId: 'b', reservedBytes: 4 * GiB }], 8 * GiB],
    ['asleep tenants reserve nothing', [{ nodeId: 'a', reservedBytes: 0 }], 8 * GiB],
    [
      'overcommitted',
      [
        { nodeId: 'a', reservedBytes: 5 * GiB },
        { nodeId: 'a', reservedBytes: 5 * GiB },
      ],
      -2 * GiB,
    ],
  ];
  for (const [name, tenants, expected] of cases) t.equal(unreservedMemory(node, tenants), expected, name);
});
