import Docker from 'dockerode';
import { testLabels, uniqueName } from './run.js';

/** Anything with tap's teardown hook. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A dockerode client for the engine at DOCKER_HOST, or the default socket. */
export function testDocker(): Docker {
  return new Docker();
}

/**
 * Creates a labelled bridge network that the test removes when it ends. The subnet is chosen by
 * the engine unless given; `internal` networks have no route out.
 */
export async function createTestNetwork(
  t: Teardown,
  docker: Docker,
  options: { internal?: boolean; subnet?: string } = {},
): Promise<Docker.Network> {
  const network = await docker.createNetwork({
    Name: uniqueName('tenancy-test-net'),
    Driver: 'bridge',
    Internal: options.internal ?? true,
    Labels: testLabels(),
    ...(options.subnet ? { IPAM: { Config: [{ Subnet: options.subnet }] } } : {}),
  });
  t.teardown(() => network.remove().catch(() => undefined));
  return network;
}

/** Creates a labelled container that the test force-removes (with its anonymous volumes) when it ends. */
export async function createTestContainer(
  t: Teardown,
  docker: Docker,
  options: Docker.ContainerCreateOptions,
): Promise<Docker.Container> {
  const container = await docker.createContainer({
    name: uniqueName('tenancy-test'),
    ...options,
    Labels: { ...options.Labels, ...testLabels() },
  });
  t.teardown(() => container.remove({ force: true, v: true }).catch(() => undefined));
  return container;
}

/** The host port Docker bound on 127.0.0.1 for a container port, once the container runs. */
export async function publishedPort(container: Docker.Container, containerPort: number): Promise<number> {
  const info = await container.inspect();
  const binding = info.NetworkSettings.Ports[`${containerPort}/tcp`]?.[0];
  if (!binding) throw new Error(`port ${containerPort} is not published`);
  return Number(binding.HostPort);
}

/**
 * Polls `url` until it answers 2xx, every `intervalMs`, for at most `timeoutMs`, or until `signal`
 * aborts. Returns the time taken.
 */
export async function waitForHttp(
  url: string,
  timeoutMs = 10_000,
  intervalMs = 20,
  signal?: AbortSignal,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    // Given up by the caller (the process being waited for exited): stop polling at once.
    if (signal?.aborted) throw new Error(`stopped waiting for ${url}`);
    // A timer of our own, not AbortSignal.timeout(): that one does not keep the process alive,
    // and a connection a port proxy accepted but cannot forward yet would then end the test.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 1_000);
    try {
      const res = await fetch(url, { signal: controller.signal });
      await res.arrayBuffer();
      if (res.ok) return performance.now() - started;
    } catch {
      // not listening yet
    } finally {
      clearTimeout(timer);
    }
    if (performance.now() - started > timeoutMs) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
