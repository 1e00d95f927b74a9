/** Where a waiting page finds its script and its progress feed, on the origin it is served from. */
export interface WaitingPaths {
  script: string;
  events: string;
}

/** On the platform origin (path mode). */
export const PLATFORM_WAITING_PATHS: WaitingPaths = { script: '/warmup/waiting.js', events: '/warmup/events' };
/** On a tenant host (subdomain mode): under the prefix the gateway keeps there. */
export const TENANT_WAITING_PATHS: WaitingPaths = {
  script: '/_tenancy/waiting.js',
  events: '/_tenancy/warmup/events',
};

/**
 * The page a browser gets while its container wakes: it follows the wake's progress feed and
 * continues to the page that was asked for when the container is ready. The script is served
 * separately so the page works under a strict Content-Security-Policy (no inline script).
 */
export const waitingPage = (paths: WaitingPaths) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Starting your workspace…</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; display: grid; place-items: center; min-height: 100vh; margin: 0; background: #f6f7f9; color: #1d2330; }
  main { width: min(28rem, 90vw); text-align: center; }
  progress { width: 100%; height: 0.75rem; }
  #error { color: #b00020; }
</style>
</head>
<body>
<main>
  <h1>Starting your workspace</h1>
  <progress id="bar" max="100" value="0"></progress>
  <p id="status">waking your container</p>
  <p id="error" hidden></p>
  <noscript>This page reloads by itself when your container is ready. <a href="">Reload</a></noscript>
</main>
<script src="${paths.script}" data-events="${paths.events}"></script>
</body>
</html>
`;

export const WAITING_SCRIPT = `(() => {
  const bar = document.getElementById('bar');
  const status = document.getElementById('status');
  const error = document.getElementById('error');
  const events = new EventSource(document.currentScript.dataset.events);
  events.addEventListener('progress', (message) => {
    const event = JSON.parse(message.data);
    bar.value = event.percent;
    status.textContent = event.message;
    if (event.phase === 'ready') { events.close(); location.reload(); }
    if (event.phase === 'failed') { events.close(); error.hidden = false; error.textContent = event.message + ' — reload to try again.'; }
  });
  events.onerror = () => { status.textContent = 'reconnecting…'; };
})();
`;
