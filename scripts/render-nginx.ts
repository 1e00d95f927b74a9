/**
 * Renders nginx/tenancy.conf.template for a given set of gateways and trusted proxies, the way
 * the official nginx image's envsubst step does in the compose stack. Used by host mode
 * (`make dev`) and by the tests, which run the same template under a real nginx.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface NginxOptions {
  /** `listen` arguments, for example `8080` or `127.0.0.1:18080`. */
  listen: string;
  /** Gateway replicas as host:port. */
  gateways: string[];
  /** CIDRs or addresses of proxies allowed to name the client (the tunnel). */
  trustedProxies?: string[];
  /** Size of each rate-limit zone. */
  zoneSize?: string;
  /** Access log destination (default /dev/stdout). */
  accessLog?: string;
  /** TENANT_DOMAIN in subdomain mode: nginx serves `*.<tenantDomain>` as tenant hosts. */
  tenantDomain?: string;
}

export const NGINX_DIR = join(import.meta.dirname, '..', 'nginx');

/** The files tenancy.conf includes, which sit beside it (copied as they are, not rendered). */
export const NGINX_INCLUDES = ['tenancy-proxy.conf', 'tenancy-server.conf'].map((name) => join(NGINX_DIR, name));

/** The substitutions the template expects, as environment variables. */
export function nginxTemplateVariables(options: NginxOptions): Record<string, string> {
  const trusted = options.trustedProxies ?? [];
  return {
    NGINX_LISTEN: options.listen,
    GATEWAY_UPSTREAMS: options.gateways.map((address) => `server ${address};`).join(' '),
    TRUSTED_PROXIES: trusted.map((cidr) => `set_real_ip_from ${cidr};`).join(' '),
    TRUSTED_PROXIES_GEO: trusted.map((cidr) => `${cidr} 1;`).join(' '),
    NGINX_CLIENT_ZONE: options.zoneSize ?? '10m',
    NGINX_ACCESS_LOG: options.accessLog ?? '/dev/stdout',
    // .invalid is reserved (RFC 2606): in path mode the tenant server matches no request.
    NGINX_TENANT_HOSTS: `*.${options.tenantDomain ?? 'tenants.invalid'}`,
  };
}

/** The rendered http-context configuration. */
export function renderNginx(options: NginxOptions): string {
  const variables = nginxTemplateVariables(options);
  const template = readFileSync(join(NGINX_DIR, 'tenancy.conf.template'), 'utf8');
  return template.replace(/\$\{([A-Z_]+)\}/g, (match, name: string) => variables[name] ?? match);
}

/**
 * Writes a complete nginx prefix for running the edge as a plain process (host mode): the main
 * config from standalone.conf.template, the rendered Tenancy config and its include.
 */
export function writeStandaloneNginx(prefix: string, options: NginxOptions): void {
  for (const sub of ['conf', 'logs', 'tmp']) mkdirSync(join(prefix, sub), { recursive: true });
  const main = readFileSync(join(NGINX_DIR, 'standalone.conf.template'), 'utf8');
  writeFileSync(join(prefix, 'conf', 'nginx.conf'), main.replace(/\$\{PREFIX\}/g, prefix));
  writeFileSync(join(prefix, 'conf', 'tenancy.conf'), renderNginx(options));
  for (const file of NGINX_INCLUDES) copyFileSync(file, join(prefix, 'conf', basename(file)));
}

// CLI: `render-nginx.ts LISTEN GATEWAY...` prints the http config;
// `render-nginx.ts --standalone PREFIX LISTEN GATEWAY...` writes a runnable prefix.
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const prefix = args[0] === '--standalone' ? args[1] : undefined;
  const [listen = '8080', ...gateways] = prefix ? args.slice(2) : args;
  const options = {
    listen,
    gateways: gateways.length ? gateways : ['127.0.0.1:3000'],
    ...(process.env.TENANT_ROUTING === 'subdomain' && process.env.TENANT_DOMAIN
      ? { tenantDomain: process.env.TENANT_DOMAIN }
      : {}),
  };
  if (prefix) writeStandaloneNginx(prefix, { ...options, accessLog: join(prefix, 'logs', 'access.log') });
  else process.stdout.write(renderNginx(options));
}
