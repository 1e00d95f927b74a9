import {
  freePort,
  type GatewayProcess,
  type SupervisorProcess,
  startGateway,
  startNginx,
  startSupervisor,
  type Teardown,
  testRedisUrl,
} from '@tenancy/test-support';
import { NGINX_INCLUDES, renderNginx } from '../../scripts/render-nginx.js';

/** The whole platform in host mode: supervisor, gateway and nginx as processes on this machine. */
export interface Platform {
  /** The public address: nginx. */
  url: string;
  port: number;
  supervisor: SupervisorProcess;
  gateway: GatewayProcess;
}

export interface PlatformOptions {
  /** Extra supervisor configuration (IDLE_TIMEOUT, REAPER_INTERVAL, ...). */
  supervisor?: Record<string, string>;
  /** Extra gateway configuration. */
  gateway?: Record<string, string>;
  /** The edge port: 8080 as in production when it is free, otherwise any free port. */
  port?: number;
  /**
   * TENANT_ROUTING=subdomain with this TENANT_LABEL_KEY: the platform at http://localhost:PORT,
   * each tenant at http://<label>.localhost:PORT (browsers and curl resolve *.localhost themselves).
   */
  subdomainKey?: string;
}

/**
 * Brings the platform up the way `make dev` does: the real supervisor (real Docker engine), the
 * real gateway in dev login mode against the run's Redis, and a real nginx running the same
 * template as the compose stack. Everything is stopped at teardown.
 */
export async function startPlatform(t: Teardown, options: PlatformOptions = {}): Promise<Platform> {
  const supervisor = await startSupervisor(t, options.supervisor);
  const port = options.port ?? ((await isFree(8080)) ? 8080 : await freePort());
  const host = options.subdomainKey ? 'localhost' : '127.0.0.1';
  const subdomain: Record<string, string> = options.subdomainKey
    ? { TENANT_ROUTING: 'subdomain', TENANT_DOMAIN: 'localhost', TENANT_LABEL_KEY: options.subdomainKey }
    : {};
  const gateway = await startGateway(t, {
    AUTH_MODE: 'dev',
    DEV_AUTH_ENABLED: 'true',
    SUPERVISOR_URL: supervisor.url,
    SUPERVISOR_TOKEN: supervisor.internalToken,
    REDIS_URL: testRedisUrl(),
    PUBLIC_BASE_URL: `http://${host}:${port}`,
    ...subdomain,
    ...options.gateway,
  });
  const config = (dir: string) =>
    renderNginx({
      listen: `127.0.0.1:${port}`,
      gateways: [gateway.address],
      accessLog: `${dir}/logs/access.log`,
      ...(options.subdomainKey ? { tenantDomain: 'localhost' } : {}),
    });
  await startNginx(t, config, NGINX_INCLUDES, `http://127.0.0.1:${port}/health`);
  return { url: `http://${host}:${port}`, port, supervisor, gateway };
}

async function isFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
