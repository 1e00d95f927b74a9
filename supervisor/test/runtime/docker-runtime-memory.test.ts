import t from 'tap';
import { createDockerRuntime } from '../../src/runtime/docker-runtime.js';
import { LOCAL_NODE } from '../../src/runtime/host-memory.js';

t.test("the Docker runtime's memory is this host's, one entry, asked for all or by its name", async (t) => {
  // memory() reads /proc/meminfo: no engine is asked (the client made by default connects to
  // nothing until a call).
  const runtime = createDockerRuntime({ instance: 'unit', port: 8080 });
  const all = await runtime.memory();
  t.equal(all.length, 1);
  t.equal(all[0]?.node, LOCAL_NODE);
  t.ok((all[0]?.availableBytes ?? 0) > 0 && (all[0]?.availableBytes ?? 0) <= (all[0]?.totalBytes ?? 0));
  t.strictSame(
    (await runtime.memory(LOCAL_NODE)).map((entry) => entry.node),
    [LOCAL_NODE],
  );
  t.strictSame(await runtime.memory('another-node'), [], 'no entry for a node it does not have');
});
