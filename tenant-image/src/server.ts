import { createServer } from 'node:http';

// Foundation placeholder of the tenant app: answers its health endpoint so the platform's
// image build and container tests have something real to start. The full app (chat, history,
// files, summary) replaces this file.
const port = Number(process.env.PORT ?? 8080);

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok' }));
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ statusCode: 404, code: 'TENANT_ERR_NOT_FOUND', error: 'Not Found', message: 'not found' }));
});

server.listen(port, '0.0.0.0');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
