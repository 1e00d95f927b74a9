/**
 * Renders nginx/tenancy.conf.template for a given set of gateways and trusted proxies, the way
 * the official nginx image's envsubst step does in the compose stack. Used by host mode
 * (`make dev`) and by the tests, which run the same template under a real nginx.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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
}

export const NGINX_DIR = join(import.meta.dirname, '..', 'nginx');

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
  };
}

/** The rendered http-context configuration. */
export function renderNginx(options: NginxOptions): string {
  const variables = nginxTemplateVariables(options);
  const template = readFileSync(join(NGINX_DIR, 'tenancy.conf.template'), 'utf8');
  return template.replace(/\$\{([A-Z_]+)\}/g, (match, name: string) => variables[name] ?? match);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [listen = '8080', ...gateways] = process.argv.slice(2);
  process.stdout.write(renderNginx({ listen, gateways: gateways.length ? gateways : ['127.0.0.1:3000'] }));
}
