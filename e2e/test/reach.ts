import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A raw HTTP request over TCP from inside the tenant: "reached" only if an answer comes back,
 * "refused" with why otherwise. `dockerHost`: the engine the tenant runs on (default: DOCKER_HOST's).
 */
export async function reachFromTenant(
  tenantId: string,
  ip: string,
  port: number,
  dockerHost?: string,
): Promise<string> {
  const script = `const s = require('net').connect(${port}, '${ip}');
    let data = '';
    s.on('connect', () => s.write('GET /health HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
    s.on('data', (d) => { data += d; });
    s.on('error', (e) => { console.log('refused', e.code); process.exit(0); });
    s.on('close', () => { console.log(data ? 'reached ' + data.split('\\r\\n')[0] : 'refused closed'); process.exit(0); });
    setTimeout(() => { console.log('refused timeout'); process.exit(0); }, 3000);`;
  const engine = dockerHost ? ['-H', dockerHost] : [];
  return (await run('docker', [...engine, 'exec', tenantId, 'node', '-e', script])).stdout.trim();
}
