import { DATA_LINKS } from './workspace-page.js';

/**
 * The workspace page's script (served at /_tenancy/workspace.js). It polls /auth/session (which
 * neither wakes the container nor counts as activity, so the open page does not keep it awake),
 * ticks the countdown every second, and follows /warmup/events while the container wakes.
 *
 * The warning: the page does not know IDLE_TIMEOUT, so it takes the longest time-to-deadline it
 * has seen (right after a wake or a keep-awake, that is IDLE_TIMEOUT) and warns when a quarter
 * of it is left, at most two minutes and at least five seconds before. It changes the tab's
 * title (seen while the user works in another tab: browsers run a background tab's timers at
 * least once a minute) and, when the user allowed it, shows one notification.
 */
export const WORKSPACE_SCRIPT = `(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const baseTitle = document.title;
  let state = null;
  let deadline = null;
  let windowMs = 0;
  let warned = false;
  let wasRunning = false;
  let events = null;

  const announce = (text) => { $('status').textContent = text; };
  const format = (ms) => {
    const seconds = Math.max(0, Math.ceil(ms / 1000));
    return Math.floor(seconds / 60) + ':' + String(seconds % 60).padStart(2, '0');
  };
  const warnLead = () => Math.min(120000, Math.max(5000, windowMs / 4));
  const post = async (url) => {
    const res = await fetch(url, { method: 'POST', headers: { accept: 'application/json' } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.message || 'the request failed (' + res.status + ')');
    return body;
  };

  function notify(title, body) {
    if (!('Notification' in window) || Notification.permission !== 'granted') return;
    try { new Notification(title, { body, tag: 'tenancy-idle' }); } catch (err) { /* not allowed here */ }
  }

  function tick() {
    const running = state === 'running';
    const left = running && deadline !== null ? deadline - Date.now() : null;
    $('countdown').textContent = left === null ? '—' : format(left);
    $('deadline').textContent = left === null
      ? (running ? 'No idle deadline yet.' : 'Your container is not running.')
      : 'It goes to sleep at ' + new Date(deadline).toLocaleTimeString() + ' unless it is used.';
    const warn = left !== null && left <= warnLead();
    $('warning').hidden = !warn;
    if (warn) {
      document.title = 'Sleeping in ' + format(left) + ' — ' + baseTitle;
      $('warning-text').textContent = 'In ' + format(left) + '. Press Keep awake, or use your app, to keep it running.';
      if (!warned) {
        warned = true;
        notify('Your workspace goes to sleep soon', 'In ' + format(left) + '. Open My workspace and press Keep awake.');
      }
      if (left <= 0) refresh();
    } else {
      warned = false;
      document.title = wasRunning && !running && state !== 'waking' ? 'Asleep — ' + baseTitle : baseTitle;
    }
  }

  function render() {
    const running = state === 'running';
    $('state').textContent = state || 'not created yet';
    $('state').className = 'state state-' + (state || 'none');
    $('stop').disabled = !(running || state === 'paused' || state === 'waking');
    $('keep-awake').disabled = !running;
    $('wake').hidden = running || state === 'waking' || state === 'stopping';
    tick();
  }

  function setTenant(tenant) {
    const before = state;
    state = tenant ? tenant.state : null;
    deadline = tenant && tenant.idle_deadline ? Date.parse(tenant.idle_deadline) : null;
    if (deadline !== null) windowMs = Math.max(windowMs, deadline - Date.now());
    if (before === 'running' && state !== 'running' && state !== 'waking') {
      notify('Your workspace is asleep', 'It wakes again when you open your app.');
      announce('Your container went to sleep.');
    }
    if (state === 'running') wasRunning = true;
    render();
    if (state === 'waking') follow();
  }

  async function refresh() {
    let res;
    try {
      res = await fetch('/auth/session', { headers: { accept: 'application/json' } });
    } catch (err) {
      announce('The platform cannot be reached; retrying.');
      return;
    }
    if (res.status === 401) {
      location.assign('/auth/login?next=' + encodeURIComponent(location.pathname));
      return;
    }
    if (!res.ok) return;
    const body = await res.json();
    $('user').textContent = body.email ? body.user_id + ' (' + body.email + ')' : body.user_id;
    setTenant(body.tenant);
  }

  function follow() {
    if (events) return;
    $('wake-progress').hidden = false;
    $('wake-error').hidden = true;
    events = new EventSource('/warmup/events');
    events.addEventListener('progress', (message) => {
      const event = JSON.parse(message.data);
      $('bar').value = event.percent;
      $('wake-status').textContent = event.message;
      if (event.phase === 'ready' || event.phase === 'failed') {
        events.close();
        events = null;
        $('wake-progress').hidden = true;
        if (event.phase === 'failed') {
          $('wake-error').hidden = false;
          $('wake-error').textContent = event.message;
        } else {
          announce('Your container is running.');
        }
        refresh();
      }
    });
    events.onerror = () => {
      events.close();
      events = null;
      setTimeout(refresh, 2000);
    };
  }

  $('wake').addEventListener('click', () => {
    state = 'waking';
    render();
    follow();
  });
  $('keep-awake').addEventListener('click', async () => {
    try {
      const body = await post('/auth/tenant/activity');
      setTenant(body);
      announce('Kept awake until ' + new Date(deadline).toLocaleTimeString() + '.');
    } catch (err) { announce(err.message); }
  });
  $('stop').addEventListener('click', async () => {
    $('stop').disabled = true;
    announce('Stopping your container…');
    try {
      const body = await post('/auth/tenant/stop');
      wasRunning = false;
      state = body.state;
      deadline = null;
      render();
      announce('Your container is stopped. It wakes again when you open your app.');
    } catch (err) { announce(err.message); render(); }
  });
  if ('Notification' in window && Notification.permission === 'default') {
    $('notify').hidden = false;
    $('notify').addEventListener('click', async () => {
      const answer = await Notification.requestPermission();
      $('notify').hidden = answer !== 'default';
      announce(answer === 'granted' ? 'You will be notified before it sleeps.' : 'Notifications are off; the tab title still warns you.');
    });
  }
  const account = async (url, done) => {
    try {
      await post(url);
      $('account-status').textContent = done;
    } catch (err) { $('account-status').textContent = err.message; }
  };
  $('delete-account').addEventListener('click', () => {
    const typed = prompt('This disables your account now and deletes it and all its data after a grace period. Type your user id to confirm.');
    if (typed === null) return;
    if (typed !== $('user').textContent.split(' ')[0]) {
      $('account-status').textContent = 'The user id did not match; nothing was done.';
      return;
    }
    account('${DATA_LINKS.deleteAccount}', 'Deletion requested. You can cancel it until it happens.');
  });
  $('restore-account').addEventListener('click', () => account('${DATA_LINKS.restoreAccount}', 'Deletion cancelled.'));

  setInterval(tick, 1000);
  setInterval(refresh, 15000);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });
  refresh();
})();
`;
