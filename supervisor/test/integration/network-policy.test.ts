import { waitForHttp } from '@tenancy/test-support';
import t from 'tap';
import { DEFAULT_PLAN } from '../../src/plans.js';
import { exec, testRuntime, testSpec } from './helpers.js';

/**
 * A network's Internal flag is fixed when it is made: a tenant whose plan gains or loses egress
 * must get a new network, or a downgraded tenant keeps its route out (and an upgraded one never
 * gets it). Both directions, on the real engine; the data on the volumes survives each change.
 */
t.test('the tenant network follows the plan: re-created when egress is granted or taken away, data kept', async (t) => {
  const { runtime, instance, docker } = testRuntime(t);
  const internalSpec = testSpec(instance, 'plan-changes');
  const egressSpec = { ...internalSpec, limits: { ...DEFAULT_PLAN, egress: true } };
  const networkOf = () => docker.getNetwork(internalSpec.names.network).inspect();

  const wake = async (spec: typeof internalSpec) => {
    const ensured = await runtime.ensure(spec);
    const running = await runtime.start(spec.names);
    const network = await networkOf();
    t.same(Object.keys(network.Containers ?? {}), [running.containerId], 'the container is on the current network');
    await waitForHttp(`${running.endpointUrl}/health`, 30_000);
    t.pass('and answers on it');
    return { ...ensured, ...running, internal: network.Internal as boolean, networkId: network.Id as string };
  };

  const free = await wake(internalSpec);
  t.equal(free.internal, true, 'free plan: internal network, no route out');
  const marker = await exec(docker, free.containerId, [
    'node',
    '-e',
    "require('fs').writeFileSync('/data/files/marker', 'kept')",
  ]);
  t.equal(marker.exitCode, 0);
  await runtime.stop(internalSpec.names, 1_000);

  const upgraded = await wake(egressSpec);
  t.equal(upgraded.internal, false, 'upgraded: the network now has a route out');
  t.not(upgraded.networkId, free.networkId, 'a new network');
  t.equal(upgraded.created, true, 'and a new container on it');
  await runtime.stop(internalSpec.names, 1_000);

  const downgraded = await wake(internalSpec);
  t.equal(downgraded.internal, true, 'downgraded: internal again, the route out is gone');
  t.not(downgraded.networkId, upgraded.networkId);
  const read = await exec(docker, downgraded.containerId, [
    'node',
    '-e',
    "process.stdout.write(require('fs').readFileSync('/data/files/marker', 'utf8'))",
  ]);
  t.equal(read.output, 'kept', 'the files volume survived both changes');

  // Same plan again: nothing is re-created.
  await runtime.stop(internalSpec.names, 1_000);
  const same = await wake(internalSpec);
  t.equal(same.networkId, downgraded.networkId, 'an unchanged plan keeps its network');
  t.equal(same.created, false, 'and its container');
});
